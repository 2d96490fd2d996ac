package secevent

// Event names from the OWASP Logging Vocabulary Cheat Sheet. An event name
// may be followed by ":" and parameters in the vocabulary's notation; bulwark
// puts parameters in [Event.Attrs] instead and keeps the name bare so that
// alerts can match it exactly.
//
// #nosec G101 -- these are event names such as "authn_token_revoked", not credentials.
const (
	// Authentication.
	AuthnLoginSuccess          = "authn_login_success"
	AuthnLoginSuccessAfterFail = "authn_login_successafterfail"
	AuthnLoginFail             = "authn_login_fail"
	AuthnLoginFailMax          = "authn_login_fail_max"
	AuthnLoginLock             = "authn_login_lock"
	AuthnPasswordChange        = "authn_password_change"
	AuthnPasswordChangeFail    = "authn_password_change_fail"
	AuthnImpossibleTravel      = "authn_impossible_travel"
	AuthnTokenCreated          = "authn_token_created"
	AuthnTokenRevoked          = "authn_token_revoked"
	AuthnTokenReuse            = "authn_token_reuse"
	AuthnTokenDelete           = "authn_token_delete"

	// AuthnTokenInvalid is bulwark's addition to the authentication group:
	// a presented token or API key failed verification (bad signature,
	// expired, wrong audience, unknown key, revoked). The vocabulary has
	// no name for a failed bearer credential that is not a login.
	AuthnTokenInvalid = "authn_token_invalid"

	// Authorization.
	AuthzFail   = "authz_fail"
	AuthzChange = "authz_change"
	AuthzAdmin  = "authz_admin"

	// Excessive use.
	ExcessRateLimitExceeded = "excess_rate_limit_exceeded"

	// File upload.
	UploadComplete   = "upload_complete"
	UploadStored     = "upload_stored"
	UploadValidation = "upload_validation"
	UploadDelete     = "upload_delete"

	// Input validation.
	InputValidationFail = "input_validation_fail"

	// Malicious behaviour.
	MaliciousExcess404          = "malicious_excess_404"
	MaliciousExtraneous         = "malicious_extraneous"
	MaliciousAttackTool         = "malicious_attack_tool"
	MaliciousCORS               = "malicious_cors"
	MaliciousDirectReference    = "malicious_direct_reference"
	PrivilegePermissionsChanged = "privilege_permissions_changed"

	// Sensitive data.
	SensitiveCreate = "sensitive_create"
	SensitiveRead   = "sensitive_read"
	SensitiveUpdate = "sensitive_update"
	SensitiveDelete = "sensitive_delete"

	// Sequence errors.
	SequenceFail = "sequence_fail"

	// Sessions.
	SessionCreated        = "session_created"
	SessionRenewed        = "session_renewed"
	SessionExpired        = "session_expired"
	SessionUseAfterExpire = "session_use_after_expire"

	// System events.
	SysStartup         = "sys_startup"
	SysShutdown        = "sys_shutdown"
	SysRestart         = "sys_restart"
	SysCrash           = "sys_crash"
	SysMonitorDisabled = "sys_monitor_disabled"
	SysMonitorEnabled  = "sys_monitor_enabled"

	// User management.
	UserCreated  = "user_created"
	UserUpdated  = "user_updated"
	UserArchived = "user_archived"
	UserDeleted  = "user_deleted"
)
