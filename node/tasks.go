package node

import (
	"context"
	"errors"
	"fmt"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Task resolutions a person may record.
const (
	ResolutionSameChild    = storage.TaskSameChild
	ResolutionNotSameChild = storage.TaskNotSameChild
	ResolutionNoAction     = storage.TaskNoActionTaken
)

// Tasks lists the match tasks private matching raised: the open ones only
// when openOnly, newest first. A task names one of this authority's cases
// and the alert it may match; it shows no identity. The list is audited.
func (c *CrossBorder) Tasks(ctx context.Context, who Principal, openOnly bool, limit int) ([]storage.MatchTask, error) {
	if err := c.n.require(ctx, who, CanReviewMatches, actionTaskList, "match tasks"); err != nil {
		return nil, err
	}
	if err := c.audit(ctx, who, actionTaskList, "match tasks"); err != nil {
		return nil, err
	}
	ts, err := c.store.MatchTasks(openOnly, limit)
	return ts, classify(err)
}

// ResolveTask records a person's review of a possible match: the same
// child (contact the issuer by the alert's route), not the same child, or
// no action, with their reason (kept on this node). Nothing is shared by
// resolving a task. A task is resolved once: a second resolution gets
// ErrNotAllowedNow.
func (c *CrossBorder) ResolveTask(ctx context.Context, who Principal, id v1.ID, resolution, reason string) (storage.MatchTask, error) {
	if err := c.n.require(ctx, who, CanReviewMatches, storage.ActionMatchTaskResolve, string(id)); err != nil {
		return storage.MatchTask{}, err
	}
	if !id.Valid() {
		return storage.MatchTask{}, fmt.Errorf("%w: id: %q is not a task ID", ErrInvalid, truncate(string(id)))
	}
	t, err := c.store.ResolveMatchTask(ctx, id, resolution, reason, who.access("review a possible match", DefaultBasis))
	if errors.Is(err, storage.ErrConflict) {
		return t, fmt.Errorf("%w: %w", ErrNotAllowedNow, err)
	}
	return t, classify(err)
}
