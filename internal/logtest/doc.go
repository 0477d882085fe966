// Package logtest records log/slog records so that tests can assert what
// was logged (a refusal and its reason, a revocation, a device id) without
// parsing text output.
package logtest
