package account

import (
	"context"
	"fmt"

	"bitgate/internal/apperr"
	"bitgate/internal/clientip"
)

// allow takes a token from the client's bucket for op (sign-in, sign-up,
// refresh, and every operation on mailed links and second factors): the
// bucket of its IPv4 address, or of its IPv6 address's
// network (Options.IPv6Prefix). Returns RATE_LIMITED, with the seconds to
// wait, when the bucket is empty, or the limiter's error.
func (s *Service) allow(ctx context.Context, op string) error {
	if s.opts.Limiter == nil {
		return nil
	}
	ok, wait, err := s.opts.Limiter.Allow(ctx, op+" "+clientip.Key(RequestInfoFrom(ctx).IP, s.opts.IPv6Prefix), s.now())
	switch {
	case err != nil:
		return fmt.Errorf("per-address limit of %s: %w", op, err)
	case !ok:
		return apperr.Limited("too many "+op+" requests from this address, slow down", wait)
	}
	return nil
}
