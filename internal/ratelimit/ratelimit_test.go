package ratelimit

import (
	"context"
	"testing"
	"time"
)

var ctx = context.Background()

func TestAllowBurstThenRefill(t *testing.T) {
	l := New(2, 3) // 2 a second, burst 3
	now := time.Unix(1_000_000, 0)
	for i := range 3 {
		if ok, _, _ := l.Allow(ctx, "a", now); !ok {
			t.Fatalf("Allow #%d within burst = false, want true", i+1)
		}
	}
	ok, wait, _ := l.Allow(ctx, "a", now)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("Allow past burst = %v, %v; want false, (0, 500ms]", ok, wait)
	}
	if ok, _, _ := l.Allow(ctx, "b", now); !ok {
		t.Fatalf("Allow for another key = false, want true")
	}
	if ok, _, _ := l.Allow(ctx, "a", now.Add(500*time.Millisecond)); !ok {
		t.Fatalf("Allow after refill = false, want true")
	}
}

func TestDisabled(t *testing.T) {
	l := New(0, 0)
	for range 1000 {
		if ok, _, _ := l.Allow(ctx, "a", time.Now()); !ok {
			t.Fatal("disabled limiter refused")
		}
	}
}

func TestSweepForgetsIdleBuckets(t *testing.T) {
	l := New(1, 2)
	now := time.Unix(1_000_000, 0)
	l.Allow(ctx, "old", now)
	l.Allow(ctx, "new", now.Add(2*time.Minute))
	if _, ok := l.buckets["old"]; ok {
		t.Fatal("idle bucket kept after sweep")
	}
	if _, ok := l.buckets["new"]; !ok {
		t.Fatal("fresh bucket dropped")
	}
}
