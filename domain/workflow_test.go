package domain_test

import (
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func st(s domain.TaskStatus) *domain.TaskStatus       { return &s }
func ph(p domain.WorkflowPhase) *domain.WorkflowPhase { return &p }

func TestStatusMachine(t *testing.T) {
	t.Parallel()
	allowed := map[domain.TaskStatus][]domain.TaskStatus{
		"DRAFT":       {"READY", "IN_PROGRESS", "CANCELLED"},
		"READY":       {"DRAFT", "IN_PROGRESS", "BLOCKED", "CANCELLED"},
		"IN_PROGRESS": {"READY", "BLOCKED", "COMPLETED", "CANCELLED"},
		"BLOCKED":     {"READY", "IN_PROGRESS", "CANCELLED"},
		"COMPLETED":   {"IN_PROGRESS"},
		"CANCELLED":   {"DRAFT", "READY"},
	}
	for _, from := range domain.TaskStatuses {
		for _, to := range domain.TaskStatuses {
			want := from == to
			for _, a := range allowed[from] {
				want = want || a == to
			}
			assert.Equal(t, want, domain.CanMove(from, to), "CanMove(%s, %s)", from, to)
		}
	}
}

func TestTransition(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(48 * time.Hour)
	base := domain.Task{ID: "t1", Status: domain.StatusReady, Phase: domain.PhaseAudit, CreatedAt: created}

	t.Run("start sets startedAt once and records the change", func(t *testing.T) {
		got, events, err := domain.Transition(base, domain.TransitionRequest{Status: st(domain.StatusInProgress)}, now)
		require.NoError(t, err)
		assert.Equal(t, domain.StatusInProgress, got.Status)
		require.NotNil(t, got.StartedAt)
		assert.Equal(t, now, *got.StartedAt)
		require.Len(t, events, 1)
		assert.Equal(t, domain.EventStatusChanged, events[0].Kind)
		assert.Equal(t, domain.StatusReady, *events[0].FromStatus)

		later := now.Add(time.Hour)
		blocked, _, err := domain.Transition(got, domain.TransitionRequest{Status: st(domain.StatusBlocked)}, later)
		require.NoError(t, err)
		again, _, err := domain.Transition(blocked, domain.TransitionRequest{Status: st(domain.StatusInProgress)}, later.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, now, *again.StartedAt, "startedAt keeps the first start")
	})
	t.Run("complete sets completedAt, reopen clears it", func(t *testing.T) {
		ip := base
		ip.Status = domain.StatusInProgress
		done, _, err := domain.Transition(ip, domain.TransitionRequest{Status: st(domain.StatusCompleted)}, now)
		require.NoError(t, err)
		require.NotNil(t, done.CompletedAt)
		reopened, _, err := domain.Transition(done, domain.TransitionRequest{Status: st(domain.StatusInProgress)}, now)
		require.NoError(t, err)
		assert.Nil(t, reopened.CompletedAt)
	})
	t.Run("cancelled cannot jump to in progress", func(t *testing.T) {
		c := base
		c.Status = domain.StatusCancelled
		_, _, err := domain.Transition(c, domain.TransitionRequest{Status: st(domain.StatusInProgress)}, now)
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		assert.Equal(t, domain.EINVALID, de.Code)
		assert.Equal(t, "status", de.Field)
	})
	t.Run("phases move one step", func(t *testing.T) {
		got, events, err := domain.Transition(base, domain.TransitionRequest{Phase: ph(domain.PhaseDecide)}, now)
		require.NoError(t, err)
		assert.Equal(t, domain.PhaseDecide, got.Phase)
		assert.Equal(t, domain.EventPhaseChanged, events[0].Kind)
		_, _, err = domain.Transition(base, domain.TransitionRequest{Phase: ph(domain.PhaseApply)}, now)
		assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
		back, _, err := domain.Transition(got, domain.TransitionRequest{Phase: ph(domain.PhaseAudit)}, now)
		require.NoError(t, err)
		assert.Equal(t, domain.PhaseAudit, back.Phase, "and back")
	})
	t.Run("closed tasks keep their phase", func(t *testing.T) {
		c := base
		c.Status = domain.StatusCompleted
		c.CompletedAt = &now
		_, _, err := domain.Transition(c, domain.TransitionRequest{Phase: ph(domain.PhaseDecide)}, now)
		assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	})
	t.Run("no change records nothing", func(t *testing.T) {
		_, events, err := domain.Transition(base, domain.TransitionRequest{Status: st(domain.StatusReady), Phase: ph(domain.PhaseAudit)}, now)
		require.NoError(t, err)
		assert.Empty(t, events)
		_, _, err = domain.Transition(base, domain.TransitionRequest{}, now)
		assert.Equal(t, domain.EINVALID, domain.ErrorCode(err), "neither status nor phase")
	})
}

func TestTaskNumbers(t *testing.T) {
	t.Parallel()
	for seq, want := range map[int64]string{1: "HT-001", 42: "HT-042", 999: "HT-999", 1000: "HT-1000", 123456: "HT-123456"} {
		assert.Equal(t, want, domain.FormatTaskNumber(seq))
		got, err := domain.ParseTaskNumber(want)
		require.NoError(t, err)
		assert.Equal(t, seq, got, "ParseTaskNumber(%q)", want)
	}
	for _, bad := range []string{"", "HT-", "HT-0", "HT-abc", "TASK-1", "HT-1.2", "HT-99999999999999999999", "HT--1"} {
		_, err := domain.ParseTaskNumber(bad)
		assert.Error(t, err, "ParseTaskNumber(%q)", bad)
	}
	n, err := domain.ParseTaskNumber("ht-007")
	require.NoError(t, err)
	assert.Equal(t, int64(7), n)
}

func TestNormalizeTagNames(t *testing.T) {
	t.Parallel()
	got, err := domain.NormalizeTagNames("tags", []string{" Backend ", "backend", "tech-debt", "v1.2"})
	require.NoError(t, err)
	assert.Equal(t, []string{"backend", "tech-debt", "v1.2"}, got)
	for _, bad := range []string{"", "-x", "has space", "ümlaut", string(make([]byte, 51))} {
		_, err := domain.NormalizeTagNames("tags", []string{bad})
		assert.Error(t, err, "NormalizeTagNames(%q)", bad)
	}
}
