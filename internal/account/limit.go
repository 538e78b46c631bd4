package account

import (
	"context"

	"bitgate/internal/apperr"
	"bitgate/internal/clientip"
)

// allow takes a token from the client's bucket for op (signin, signup or
// refresh): the bucket of its IPv4 address, or of its IPv6 address's
// network (Options.IPv6Prefix). Returns RATE_LIMITED, with the seconds to
// wait, when the bucket is empty.
func (s *Service) allow(ctx context.Context, op string) error {
	ok, wait := s.opts.Limiter.Allow(op+" "+clientip.Key(RequestInfoFrom(ctx).IP, s.opts.IPv6Prefix), s.now())
	if ok {
		return nil
	}
	return apperr.Limited("too many "+op+" requests from this address, slow down", wait)
}
