package drift

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/alert"
	"github.com/dv-ml/dv/train/registry"
)

// Run is dv drift: it resolves the reference and the current data as the
// user named them (ref: DATA[@VERSION], MODEL@ALIAS, MODEL@vN, a record
// id or a file on disk; cur: a file or folder on disk or tracked data),
// then checks and records as Check does (opts.Reference and opts.Current
// are set here). The report's Alert is the event to post when the data
// drifted.
func Run(ctx context.Context, r *workspace.Repo, ref, cur string, opts Options) (*Report, error) {
	var t registry.Target
	var err error
	if opts.Reference, t, err = source(ctx, r, ref, false); err != nil {
		return nil, err
	}
	if opts.Current, _, err = source(ctx, r, cur, true); err != nil {
		return nil, err
	}
	rep, err := Check(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	rep.target = t
	return rep, nil
}

// source resolves REF or CUR: a file or folder on disk that is not
// tracked (or, for CUR, any path on disk) is read as it is; anything else
// is a name for the one resolver (registry.Resolve), or DATA@ID: a
// version of tracked data by its record id.
func source(ctx context.Context, r *workspace.Repo, arg string, current bool) (Source, registry.Target, error) {
	src := Source{Name: arg}
	if _, err := os.Stat(arg); err == nil {
		_, perr := os.Stat(arg + pointer.Ext)
		if current || perr != nil {
			src.Path = arg
			return src, registry.Target{}, nil
		}
	}
	rs := r.Refs()
	t, err := registry.Resolve(ctx, r, rs, arg)
	if err != nil {
		i := strings.LastIndexByte(arg, '@')
		if i <= 0 {
			return src, t, err
		}
		data, verr := registry.ResolveID(ctx, r, rs, arg[:i])
		if verr != nil {
			return src, t, err // the resolver's error for the whole name
		}
		if t, verr = registry.Resolve(ctx, r, rs, arg[i+1:]); verr != nil {
			return src, t, verr
		}
		if err := sameData(ctx, r.Store, data, t.ID); err != nil {
			return src, t, fmt.Errorf("%s: %w", arg, err)
		}
	}
	src.Record = t.ID
	return src, t, nil
}

// sameData checks that record ver is a version of the same data as
// record latest (the same path or name), for DATA@VERSION.
func sameData(ctx context.Context, s *objects.Store, latest, ver objects.ID) error {
	a, err := lineage.Load(ctx, s, latest)
	if err != nil {
		return err
	}
	b, err := lineage.Load(ctx, s, ver)
	if err != nil {
		return err
	}
	if a.Path != b.Path || a.Name != b.Name || a.Type != b.Type {
		return fmt.Errorf("%s is a version of %s, not of %s", ver.Short(), lineage.Title(b), lineage.Title(a))
	}
	return nil
}

// Alert is the drift event of a check whose data drifted (ok false when
// it did not): the drifted columns against the dataset share, the record,
// and the model, alias and version when the reference was named through
// a model (vN when the name gave the number, else the short record id).
func (rep *Report) Alert() (ev alert.Event, ok bool) {
	if !rep.Drift.Detected {
		return alert.Event{}, false
	}
	d := &rep.Drift
	ev = alert.Event{Event: alert.KindDrift, Verdict: "drift", Metric: "drifted columns",
		Value: alert.Float(float64(d.Drifted)), Threshold: alert.Float(d.Share * float64(d.Checked)),
		Reason: fmt.Sprintf("%s of %s drifted from %s", lineage.DriftText(d), rep.Current.Path, rep.Name)}
	if !rep.Record.IsZero() {
		ev.Record = rep.Record.String()
	}
	if !rep.Model.IsZero() {
		ev.Model, ev.Alias, ev.Version = rep.target.Model, rep.target.Alias, rep.Model.Short()
		if rep.target.Number > 0 {
			ev.Version = fmt.Sprintf("v%d", rep.target.Number)
		}
	}
	return ev, true
}
