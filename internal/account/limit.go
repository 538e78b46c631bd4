package account

import (
	"context"

	"bitgate/internal/apperr"
)

// allow takes a token from the client address's bucket for op (signin,
// signup or refresh). Returns RATE_LIMITED, with the seconds to wait, when
// the bucket is empty.
func (s *Service) allow(ctx context.Context, op string) error {
	ok, wait := s.opts.Limiter.Allow(op+" "+RequestInfoFrom(ctx).IP, s.now())
	if ok {
		return nil
	}
	return apperr.Limited("too many "+op+" requests from this address, slow down", wait)
}
