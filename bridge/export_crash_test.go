package bridge

// Exported for the external tests of this directory (package bridge_test),
// which run the engine with the real adapters and cannot reach unexported
// names.

// ErrSimulatedCrash is what a step hook returns to make the engine abandon
// the step as if the process died there.
var ErrSimulatedCrash = errCrash

// SetStepHook installs hook, called at each named step boundary of e
// ("before-observe-commit", "after-observe-commit", "before-attempt",
// "before-delivery", "after-delivery", "after-ensure-channel"). Set it
// before Run; hook must be safe for concurrent use.
func SetStepHook(e *Engine, hook func(point string) error) { e.hook = hook }
