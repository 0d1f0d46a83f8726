package bridge

import (
	"errors"
	"fmt"
	"testing"
)

func TestOutcomeOf(t *testing.T) {
	base := errors.New("HTTP 400: Invalid Form Body")
	tests := []struct {
		name string
		err  error
		want CallOutcome
	}{
		{"nil", nil, CallDone},
		{"plain", base, CallTransient},
		{"permanent", Permanent(base), CallPermanent},
		{"wrapped permanent", fmt.Errorf("post: %w", Permanent(base)), CallPermanent},
		{"ambiguous", Ambiguous(base), CallAmbiguous},
		{"ambiguous beats permanent", Ambiguous(Permanent(base)), CallAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OutcomeOf(tt.err); got != tt.want {
				t.Errorf("OutcomeOf = %v, want %v", got, tt.want)
			}
			if tt.err != nil && !errors.Is(tt.err, base) {
				t.Errorf("the cause is lost: %v", tt.err)
			}
			if tt.err != nil && tt.err.Error() != base.Error() && tt.name != "wrapped permanent" {
				t.Errorf("text changed to %q", tt.err.Error())
			}
		})
	}
	if Permanent(nil) != nil || Ambiguous(nil) != nil {
		t.Error("classifying nil must stay nil")
	}
}
