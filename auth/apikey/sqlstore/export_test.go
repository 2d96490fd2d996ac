package sqlstore

import "time"

// SetHeartbeat sets how often an idle LISTEN connection is checked.
func SetHeartbeat(s *Store, d time.Duration) { s.heartbeat = d }
