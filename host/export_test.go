package host

// SetCrashPoint lets tests stop an install at a named step.
func SetCrashPoint(o *Options, f func(step string)) { o.crashPoint = f }
