package qqtest

import "math/rand/v2"

// SetApplyThenFail makes a share rate (0..1) of the items calling method
// (e.g. "SendMessageAsync") be applied in full, then lose their answer in
// one of the ways of mix, drawn at random from a generator seeded with
// seed: what a client sees when QQ sent the message and a proxy then
// answered 5xx, or the connection timed out or dropped. Only whole-request
// faults make sense here (HTTP5xx, Timeout, Malformed, Gateway); each is
// forced to strike after the apply (AfterApply), and Times is ignored. It
// adds to earlier settings for other methods and is drawn before the
// random faults of SetRandomFaults; a rate of 0 (or no whole fault in mix)
// turns it off for method. Off by default; ClearFaults clears it too.
func (s *Server) SetApplyThenFail(method string, rate float64, seed int64, mix ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var whole []Fault
	for _, f := range mix {
		if f.whole() {
			f.AfterApply, f.Times = true, 0
			whole = append(whole, f)
		}
	}
	if rate <= 0 || len(whole) == 0 {
		delete(s.applied, method)
		return
	}
	if s.applied == nil {
		s.applied = map[string]*randomFaults{}
	}
	s.applied[method] = &randomFaults{rate: rate, mix: whole, rng: rand.New(rand.NewPCG(uint64(seed), 0xa991ed))}
}

// takeAppliedLocked draws an applied-then-failed fault for one item of
// method, or nil; the caller holds s.mu.
func (s *Server) takeAppliedLocked(method string) *Fault {
	r := s.applied[method]
	if r == nil || r.rng.Float64() >= r.rate {
		return nil
	}
	f := r.mix[r.rng.IntN(len(r.mix))]
	if s.appliedLost == nil {
		s.appliedLost = map[string]int{}
	}
	s.appliedLost[method]++
	return &f
}

// AppliedThenFailed says how many calls of method SetApplyThenFail
// applied and then answered with a lost answer.
func (s *Server) AppliedThenFailed(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appliedLost[method]
}
