package keys

import (
	"context"
	"time"
)

// Thumbprint exposes thumbprint to the tests.
var Thumbprint = thumbprint

// CreateAt adds a key that signs from activeFrom, as a rotation does.
func (s *Store) CreateAt(ctx context.Context, activeFrom time.Time) (Info, error) {
	return s.create(ctx, activeFrom)
}
