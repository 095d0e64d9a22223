package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"nrmnet/node/childrecord"
	"nrmnet/node/report"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// reportPurpose is recorded on the read of the cases made to build the
// quarterly return; referralsPurpose on that of the per-referral dataset.
const (
	reportPurpose    = "quarterly management information return (aggregate figures only)"
	referralsPurpose = "per-referral management information dataset (no child identified)"
)

// caseExporter is the bulk read a report needs of the store, checked on
// Config.Store by type assertion (*storage.Store has it). A store without it
// is read case by case (allCases).
type caseExporter interface {
	ExportCases(ctx context.Context, who storage.Access, fn func(*v1.Case) error) error
}

// QuarterlyReturn builds the quarterly return in the Home Office
// statistics' categories from every case of the node, every count
// small-number suppressed (node/report). Building it decrypts every case
// in one audited bulk read, in the name of who asked, with the purpose
// reportPurpose; each case is counted as the read hands it over and then
// dropped, so the memory it takes does not grow with the cases. Erased
// cases are left out.
func (n *Node) QuarterlyReturn(ctx context.Context, who Principal, q report.Quarter) (*report.Return, error) {
	return n.quarterlyReturn(ctx, who, q, n.reportCases)
}

// quarterlyReturn is QuarterlyReturn reading the cases with read (the
// benchmark compares the bulk read with the case-by-case one).
func (n *Node) quarterlyReturn(ctx context.Context, who Principal, q report.Quarter, read caseReader) (*report.Return, error) {
	if err := n.require(ctx, who, CanReadReports, "report.quarterly", q.String()); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	b, err := report.NewQuarterly(q, n.cal, report.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("quarterly return %s: %w", q, err)
	}
	cases := 0
	err = read(ctx, who.access(reportPurpose, v1.BasisPublicTask), func(c *v1.Case) error {
		cases++
		return b.Add(c)
	})
	if err != nil {
		return nil, err
	}
	ret := b.Return()
	n.log.Info("quarterly return built", "quarter", q.String(), "cases", cases, "actor", who.ID)
	return ret, nil
}

// ReferralDataset builds the per-referral dataset (node/report.Referrals)
// for the referrals received in quarter q: one row per referral, no child
// identified, not suppressed: it is the authority's own management
// information. It needs CanReadReferralData (the NRM coordinator's, never the
// regional coordinator's: the rows are not suppressed) and, like
// QuarterlyReturn, reads every case in one audited bulk read, with the
// purpose referralsPurpose, keeping the rows and dropping each case.
func (n *Node) ReferralDataset(ctx context.Context, who Principal, q report.Quarter) ([]report.ReferralRow, error) {
	if err := n.require(ctx, who, CanReadReferralData, "report.referrals", q.String()); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	b, err := report.NewReferrals(q, n.cal, report.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("per-referral dataset %s: %w", q, err)
	}
	if err := n.reportCases(ctx, who.access(referralsPurpose, v1.BasisPublicTask), b.Add); err != nil {
		return nil, err
	}
	rows := b.Rows()
	n.log.Info("per-referral dataset built", "quarter", q.String(), "rows", len(rows), "actor", who.ID)
	return rows, nil
}

// caseReader reads every case of the node for a report, calling fn with
// each in turn; fn keeps what it needs of the case, not the case. It stops
// at fn's first error and returns it, wrapped.
type caseReader func(ctx context.Context, who storage.Access, fn func(*v1.Case) error) error

// reportCases reads every case with the store's bulk read, or case by case
// if the store has none.
func (n *Node) reportCases(ctx context.Context, who storage.Access, fn func(*v1.Case) error) error {
	ex, ok := n.store.(caseExporter)
	if !ok {
		return n.allCases(ctx, who, fn)
	}
	return classify(ex.ExportCases(ctx, who, fn))
}

// reportReaders is how many case reads allCases keeps in flight: the
// store commits their audit entries together, so reading in parallel is
// several times faster than one by one.
const reportReaders = 16

// allCases reads every case, page by page from the summary index, each
// page by reportReaders readers at once, each read audited on its own: the
// way reports were built before the store had a bulk read, kept for a Store
// without ExportCases. It calls fn with the cases of each page, in the
// page's order, and keeps none. Erased cases are left out.
func (n *Node) allCases(ctx context.Context, who storage.Access, fn func(*v1.Case) error) error {
	q := storage.CaseQuery{Limit: storage.MaxListLimit}
	for {
		page, err := n.store.ListCases(ctx, q, who)
		if err != nil {
			return classify(err)
		}
		got := make([]*v1.Case, len(page))
		errs := make([]error, len(page))
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(reportReaders, len(page)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < len(page); i = int(next.Add(1)) - 1 {
					c, err := n.store.Case(ctx, page[i].ID, who)
					if errors.Is(err, storage.ErrErased) || errors.Is(err, storage.ErrNotFound) {
						continue // erased (or erased between list and read)
					}
					got[i], errs[i] = c, err
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return classify(err)
		}
		for _, c := range got {
			if c == nil {
				continue
			}
			if err := fn(c); err != nil {
				return classify(err)
			}
		}
		if len(page) < q.Limit {
			return nil
		}
		q.Cursor = page[len(page)-1].Cursor()
	}
}

// ChildRecordFormat is how a child's record is written.
type ChildRecordFormat string

// The formats of a child's record.
const (
	ChildRecordHTML ChildRecordFormat = "html"
	ChildRecordText ChildRecordFormat = "text"
)

// ChildRecord reads a case (audited, with the purpose given) and renders
// it as the plain-language page the child can read (node/childrecord).
// Nothing is written to w unless the whole page renders.
func (n *Node) ChildRecord(ctx context.Context, who Principal, id v1.CaseID, why Read, format ChildRecordFormat) ([]byte, error) {
	if err := checkCaseID(id); err != nil {
		return nil, err
	}
	if err := n.require(ctx, who, CanReadChildRecord, v1.ActionCaseExport, string(id)); err != nil {
		return nil, err
	}
	if format != ChildRecordHTML && format != ChildRecordText {
		return nil, fmt.Errorf("%w: format %.20q is not html or text", ErrInvalid, format)
	}
	if why.Purpose == "" {
		why.Purpose = "the child's own record"
	}
	if err := checkRead(why); err != nil {
		return nil, err
	}
	c, err := n.store.Case(ctx, id, who.access(why.Purpose, why.basis()))
	if err != nil {
		return nil, classify(err)
	}
	var buf bytes.Buffer
	opts := childrecord.Options{Policy: &n.policy, Calendar: n.cal}
	if format == ChildRecordHTML {
		err = childrecord.RenderHTML(&buf, c, opts)
	} else {
		err = childrecord.RenderText(&buf, c, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("child's record of %s: %w", id, err)
	}
	return buf.Bytes(), nil
}
