package main

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"nrmnet/federation"
	"nrmnet/federation/rpc"
	"nrmnet/node"
	"nrmnet/node/web"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// relocationDir is the hand-over store's directory inside the node
// directory; nothing else writes there.
const relocationDir = "relocation"

// relocationObserveTimeout bounds how long the origin's case record may take
// to follow one change of a hand-over.
const relocationObserveTimeout = 30 * time.Second

// relocationDeps are the running node's parts the relocation hand-over is
// built on.
type relocationDeps struct {
	Dir       string // the node directory
	KeysDir   string // holds the storage key
	Authority authority.Code
	Identity  ed25519.PrivateKey
	Host      *federation.Host
	Node      *node.Node
	Store     *storage.Store
	Logger    *slog.Logger
}

// relocationParts is the relocation hand-over of a running node: the
// custody callbacks on the case store, the hand-over records on disk, the
// federation's relocation service (which resumes every unfinished hand-over
// when it starts) and what people do with relocations (the API and pages
// use Desk). Close stops them in order.
type relocationParts struct {
	Desk *node.Relocations

	custody   *node.CaseCustody
	handovers *rpc.BadgerStore
	service   *rpc.Relocations

	closeOnce sync.Once
	closeErr  error
}

// startRelocations opens the hand-over store and starts the relocation
// service on the node's federation host. On error, whatever it opened is
// closed again.
func startRelocations(d relocationDeps) (_ *relocationParts, err error) {
	log := d.Logger.With("component", "relocation")
	p := &relocationParts{}
	defer func() {
		if err != nil {
			_ = p.Close()
			err = fmt.Errorf("relocation hand-over: %w", err)
		}
	}()
	if p.custody, err = node.NewCaseCustody(node.CaseCustodyConfig{Node: d.Node, Store: d.Store, Logger: log}); err != nil {
		return nil, err
	}
	key, err := handoverStoreKey(d.KeysDir)
	if err != nil {
		return nil, err
	}
	if p.handovers, err = rpc.OpenBadgerStore(rpc.BadgerConfig{
		Dir: filepath.Join(d.Dir, relocationDir), EncryptionKey: key, Logger: log,
	}); err != nil {
		return nil, err
	}
	rc := rpc.DefaultConfig()
	rc.Authority, rc.Identity, rc.Store = d.Authority, d.Identity, p.handovers
	rc.Cases, rc.Intake, rc.Audit = p.custody, p.custody, p.custody
	cust := p.custody
	rc.Observer = func(h rpc.Handover) {
		ctx, cancel := context.WithTimeout(context.Background(), relocationObserveTimeout)
		defer cancel()
		cust.Observe(ctx, fromHandover(h))
	}
	rc.Logger = log
	if p.service, err = rpc.New(d.Host, rc); err != nil {
		return nil, err
	}
	rlc := node.DefaultRelocationsConfig()
	rlc.Node, rlc.Store, rlc.Service, rlc.Logger = d.Node, d.Store, rpcRelocations{p.service}, log
	if p.Desk, err = node.NewRelocations(rlc); err != nil {
		return nil, err
	}
	return p, nil
}

// Close stops the relocation service (it calls the node and both stores),
// then closes the hand-over store. The caller closes the federation host
// and the case store afterwards. It may be called more than once, and on
// nil.
func (p *relocationParts) Close() error {
	if p == nil {
		return nil
	}
	p.closeOnce.Do(func() {
		var errs []error
		if p.service != nil {
			if err := p.service.Close(); err != nil {
				errs = append(errs, fmt.Errorf("relocation service: %w", err))
			}
		}
		if p.handovers != nil {
			if err := p.handovers.Close(); err != nil {
				errs = append(errs, fmt.Errorf("hand-over store: %w", err))
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// handoverStoreKey is the hand-over store's encryption key: derived from
// the node's storage key (HKDF-SHA256 with a label of its own), so that the
// one secret the operator backs up covers it, and no two stores share a key.
func handoverStoreKey(keysDir string) ([]byte, error) {
	sk, err := storage.LoadStorageKey(filepath.Join(keysDir, storage.StorageKeyFile))
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, sk, nil, "nrmnet relocation hand-over store v1", storage.StorageKeySize)
}

// rpcRelocations adapts *rpc.Relocations to node.RelocationService.
type rpcRelocations struct{ r *rpc.Relocations }

func (a rpcRelocations) Request(ctx context.Context, actor string, req v1.RelocationRequest) (node.Relocation, error) {
	h, err := a.r.Request(ctx, actor, req)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Accept(ctx context.Context, actor string, id v1.ID) (node.Relocation, error) {
	h, err := a.r.Accept(ctx, actor, id)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Reject(ctx context.Context, actor string, id v1.ID, reason string) (node.Relocation, error) {
	h, err := a.r.Reject(ctx, actor, id, reason)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Revoke(ctx context.Context, actor string, id v1.ID, reason string) (node.Relocation, error) {
	h, err := a.r.Revoke(ctx, actor, id, reason)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Get(ctx context.Context, id v1.ID) (node.Relocation, error) {
	h, err := a.r.Get(ctx, id)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) List(ctx context.Context) ([]node.Relocation, error) {
	hs, err := a.r.List(ctx)
	if err != nil {
		return nil, fromRPCError(err)
	}
	out := make([]node.Relocation, len(hs))
	for i, h := range hs {
		out[i] = fromHandover(h)
	}
	return out, nil
}

// fromHandover is the node's view of a hand-over record.
func fromHandover(h rpc.Handover) node.Relocation {
	return node.Relocation{Request: h.Request, Side: node.RelocationSide(h.Side), State: node.RelocationState(h.State),
		Acked: h.Acked, Decision: h.Decision, Failure: h.Failure, Updated: h.Updated}
}

// fromRPCError maps the relocation service's sentinels to the node's,
// keeping the service's error in the chain.
func fromRPCError(err error) error {
	var s error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpc.ErrUnknownHandover):
		s = node.ErrNotFound
	case errors.Is(err, rpc.ErrNotDestination), errors.Is(err, rpc.ErrNotOrigin):
		s = node.ErrForbidden
	case errors.Is(err, rpc.ErrAlreadyAccepted), errors.Is(err, rpc.ErrFinished),
		errors.Is(err, rpc.ErrWrongState), errors.Is(err, rpc.ErrRevoked):
		s = node.ErrNotAllowedNow
	case errors.Is(err, rpc.ErrConflict):
		s = node.ErrConflict
	case errors.Is(err, rpc.ErrInvalidRequest):
		s = node.ErrInvalid
	default:
		s = node.ErrUnavailable
	}
	return fmt.Errorf("%w: %w", s, err)
}

// webRelocations lets the relocation inbox page use the node's Relocations.
type webRelocations struct {
	desk *node.Relocations
	self v1.AuthorityCode
}

func (a webRelocations) Relocations(ctx context.Context, who web.Principal) (*node.RelocationList, error) {
	return a.desk.List(ctx, asNode(who, a.self))
}

func (a webRelocations) AcceptRelocation(ctx context.Context, who web.Principal, id v1.ID) (node.Relocation, error) {
	return a.desk.Accept(ctx, asNode(who, a.self), id)
}

func (a webRelocations) RejectRelocation(ctx context.Context, who web.Principal, id v1.ID, reason string) (node.Relocation, error) {
	return a.desk.Reject(ctx, asNode(who, a.self), id, reason)
}

func (a webRelocations) RevokeRelocation(ctx context.Context, who web.Principal, id v1.ID, reason string) (node.Relocation, error) {
	return a.desk.Revoke(ctx, asNode(who, a.self), id, reason)
}

// devnetRelocation is the relocation request a new devnet starts with:
// Camden asks Islington to take the case of a child who has moved there,
// so that Islington's relocation inbox (its users' tokens are printed
// first) holds an offer to accept or reject.
var devnetRelocation = struct{ From, To authority.Code }{"CMD", "ISL"}

// seedDevnetRelocation records a new synthetic case at the origin and asks
// the destination to take it, through the origin's node.Relocations, as a
// social worker would. It returns a line for the operator; a failure is
// logged and reported, not fatal. It runs once, when the devnet is created.
func seedDevnetRelocation(ctx context.Context, nodes []*runningNode, log *slog.Logger) []string {
	var from, to *runningNode
	for _, n := range nodes {
		switch n.Authority {
		case devnetRelocation.From:
			from = n
		case devnetRelocation.To:
			to = n
		}
	}
	if from == nil || to == nil || from.relocs == nil {
		return nil
	}
	if _, ok := from.host.Lookup(to.Authority); !ok {
		return nil
	}
	fail := func(err error) []string {
		log.Warn("devnet: request relocation", "origin", string(from.Authority), "destination", string(to.Authority), "err", err)
		return []string{fmt.Sprintf("  relocation from %s to %s not requested: %v", from.Authority, to.Authority, err)}
	}
	now := time.Now().UTC()
	// Referred in the last two days, so that its clocks are running.
	g := synthetic.New(7, synthetic.WithAuthority(from.Authority), synthetic.WithClock(now),
		synthetic.WithPeriod(now.Add(-48*time.Hour), now.Add(-time.Hour)))
	c := g.Case()
	id, err := devnetRefer(ctx, from, c.Identity, c)
	if err != nil {
		return fail(fmt.Errorf("case: %w", err))
	}
	r, err := from.relocs.Desk.Request(ctx, devnetWorker(from.Authority), node.NewRelocation{
		Case: id, Destination: to.Authority, Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh,
		LegalBasis: v1.BasisSafeguardingChildren,
	})
	if err != nil {
		return fail(err)
	}
	return []string{fmt.Sprintf("Requested a relocation from %s to %s (%s) of case %s: accept or reject it at http://%s/relocations",
		from.Authority, to.Authority, r.Request.ID, id, to.HTTPAddr())}
}
