package audit

// Crash stops l as a killed process would: no end record, no final
// checkpoint, files closed as the kernel would close them.
func Crash(l *File) {
	l.mu.Lock()
	l.closed = true
	_ = l.f.Close()
	if l.cpf != nil {
		_ = l.cpf.Close()
	}
	l.mu.Unlock()
	close(l.stop)
	<-l.done
}

// Tick runs one round of l's background work (flush, checkpoint by time,
// rotation by age) now, by l's clock.
func Tick(l *File) { l.tick() }
