package sdk

import "strconv"

// The public API is the same for every target. Each function calls a
// lower-case primitive implemented twice: over the Extism kernel ABI in the
// wasip1 files, and over the in-memory host in host_native.go.

// Input returns the input the host passed to the current call. Each call
// returns a fresh copy, which the caller may modify.
func Input() []byte { return input() }

// InputString returns the input as a string.
func InputString() string { return string(input()) }

// Output sets the call's output to a copy of b. If Output is called more
// than once, the last output wins.
func Output(b []byte) { output(b) }

// OutputString sets the call's output to s.
func OutputString(s string) { output([]byte(s)) }

// SetError makes the call fail with err's message: the host reports it as
// the call's error, whatever the tool function returns. Tools should still
// return a non-zero status after SetError. SetError(nil) clears an error set
// earlier in the same call.
func SetError(err error) {
	if err == nil {
		setError("")
		return
	}
	SetErrorString(err.Error())
}

// SetErrorString is SetError with a message. An empty message clears the
// error, because Extism reads an empty error as no error.
func SetErrorString(msg string) { setError(msg) }

// GetConfig returns the value of the plugin configuration key set by the
// host, and whether it is set. As in Extism, a key set to the empty string
// is reported as not set, and so is the empty key.
func GetConfig(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	return getConfig(key)
}

// A LogLevel is the severity of a log message.
type LogLevel int

// Log levels, from the least to the most severe. The values match Extism's
// log_trace … log_error host functions.
const (
	LogTrace LogLevel = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
)

// String returns the level's name in lower case, as Extism spells it.
func (l LogLevel) String() string {
	switch l {
	case LogTrace:
		return "trace"
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	}
	return "LogLevel(" + strconv.Itoa(int(l)) + ")"
}

// Log sends msg to the host's log at the given level; the host decides
// what to keep. A level below LogTrace is sent as LogTrace and one above
// LogError as LogError. An empty message is not sent: Extism cannot pass an
// empty memory block.
func Log(level LogLevel, msg string) {
	if msg == "" {
		return
	}
	logMessage(clampLevel(level), msg)
}

// LogEnabled reports whether the host keeps messages logged at level
// (Extism's get_log_level), so that a tool can skip building a costly
// message nobody reads. Levels are clamped as in Log. The answer holds for
// the current call: a host may change its level between calls.
func LogEnabled(level LogLevel) bool {
	return clampLevel(level) >= logLevel()
}

func clampLevel(l LogLevel) LogLevel { return min(max(l, LogTrace), LogError) }
