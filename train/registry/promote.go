package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
)

// ErrRejected means the promotion rules rejected the candidate (exit 4).
var ErrRejected = errors.New("promotion rejected")

// RejectedError is a rejection, with the decision that made it.
type RejectedError struct{ Decision *Decision }

func (e *RejectedError) Error() string {
	d := e.Decision
	return fmt.Sprintf("%s v%d not promoted to %s: %s", d.Model, d.Candidate.Number, d.Alias, FailureText(Failed(d.Checks)))
}

// Is makes a RejectedError match ErrRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Version names one model version.
type Version struct {
	ID     objects.ID `json:"id"`
	Number int        `json:"number"`
}

// Decision is what dv promote and dv rollback decided.
type Decision struct {
	Model     string          `json:"model"`
	Alias     string          `json:"alias"`
	Candidate Version         `json:"candidate"`
	Baseline  *Version        `json:"baseline"` // the holder before (nil: none)
	NoHolder  bool            `json:"no_holder,omitempty"`
	Checks    []lineage.Check `json:"checks"`
	Decision  string          `json:"decision"` // promoted, rejected, forced, rolled-back
	Reason    string          `json:"reason,omitempty"`
	DryRun    bool            `json:"dry_run,omitempty"`
	Event     objects.ID      `json:"event,omitzero"` // the recorded event (zero: dry run)
}

// PromoteOptions are dv promote's.
type PromoteOptions struct {
	Model   string
	Version string // v3, 3, crop@v3, an id...; "" = the newest
	Alias   string // "" = the framing's alias, else production
	DryRun  bool
	Force   bool
	Reason  string
}

// Validate checks the options.
func (o PromoteOptions) Validate() error {
	if o.Model == "" {
		return errors.New("name the model to promote")
	}
	if o.Force && strings.TrimSpace(o.Reason) == "" {
		return errors.New("--force needs --reason TEXT (it is recorded)")
	}
	if o.Alias != "" {
		return ValidAlias(o.Alias)
	}
	return nil
}

// Promote evaluates a version of a model against the alias's holder by
// the criteria of the project's dv.yaml and, unless it is a dry run,
// records the decision in the model's event chain and moves the alias
// when promoted (or forced). A rejection returns the decision and a
// *RejectedError. A malformed dv.yaml is an error before anything is read
// or written.
func Promote(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, o PromoteOptions) (*Decision, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := workspace.LoadConfig(r.Root)
	if err != nil {
		return nil, err
	}
	f, err := LoadFraming(c)
	if err != nil {
		return nil, err
	}
	return promote(ctx, r, rc, f, o)
}

func promote(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, f *Framing, o PromoteOptions) (*Decision, error) {
	alias := o.Alias
	if alias == "" {
		alias = f.Promotion.Alias
	}
	if alias == "" {
		alias = DefaultAlias
	}
	if err := rc.Refs.CheckName(AliasRef(o.Model, alias)); err != nil {
		return nil, err
	}
	cand, err := candidate(ctx, r, rc, o.Model, o.Version)
	if err != nil {
		return nil, err
	}
	head, err := readHead(ctx, rc.Store, rc.Refs, o.Model)
	if err != nil {
		return nil, err
	}
	base := head.Holders[alias]
	d := &Decision{Model: o.Model, Alias: alias, Candidate: cand, DryRun: o.DryRun, Reason: o.Reason}
	baseMetrics := map[string]float64{}
	if base.IsZero() {
		d.NoHolder = true
	} else {
		h, err := holding(ctx, rc.Store, rc.Refs, Holding{Model: o.Model, Alias: alias}, base)
		if err != nil {
			return nil, err
		}
		if h.Version == cand.ID {
			return nil, fmt.Errorf("%s v%d already holds %s", o.Model, cand.Number, alias)
		}
		d.Baseline = &Version{ID: h.Version, Number: h.Number}
		if baseMetrics, err = metricsOf(ctx, rc.Store, h.Version); err != nil {
			return nil, fmt.Errorf("baseline %s@%s: %w", o.Model, alias, err)
		}
	}
	candMetrics, err := metricsOf(ctx, rc.Store, cand.ID)
	if err != nil {
		return nil, err
	}
	if len(f.Promotion.Criteria) == 0 {
		return nil, errors.New("dv.yaml has no promotion criteria: add promotion.criteria (dv help promote), or use --force --reason")
	}
	d.Checks = Evaluate(f.Promotion.Criteria, baseMetrics, candMetrics, !d.NoHolder)
	failed := Failed(d.Checks)
	switch {
	case len(failed) == 0:
		d.Decision = DecisionPromoted
	case o.Force:
		d.Decision = DecisionForced
	default:
		d.Decision = DecisionRejected
		if d.Reason == "" {
			d.Reason = FailureText(failed)
		}
	}
	if testHookBeforeRecord != nil {
		testHookBeforeRecord()
	}
	if !o.DryRun {
		p := lineage.Promotion{Alias: alias, Decision: d.Decision, Reason: d.Reason, To: cand.ID, ToNumber: cand.Number,
			Checks: d.Checks}
		if d.Baseline != nil {
			p.From, p.FromNumber = d.Baseline.ID, d.Baseline.Number
		}
		if Moves(d.Decision) {
			p.Prior = base
		}
		if d.Event, err = appendEvent(ctx, rc, o.Model, base, p); err != nil {
			return d, err
		}
	}
	if d.Decision == DecisionRejected {
		return d, &RejectedError{d}
	}
	return d, nil
}

// testHookBeforeRecord runs between evaluating and recording, in tests
// (another process deciding meanwhile).
var testHookBeforeRecord func()

var numberRE = regexp.MustCompile(`^v?([0-9]+)$`)

// candidate resolves the version to promote: "" the newest, vN or N the
// Nth, anything else by Resolve; it must be a version of model.
func candidate(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, model, version string) (Version, error) {
	var id objects.ID
	var err error
	switch m := numberRE.FindStringSubmatch(version); {
	case version == "":
		id, err = rc.Refs.Get(ModelRef(model))
		if err != nil {
			err = fmt.Errorf("model %s: %w (dv train -n %s makes one)", model, err, model)
		}
	case m != nil:
		n, _ := strconv.Atoi(m[1])
		id, err = VersionNumber(ctx, rc.Store, rc.Refs, model, n)
	default:
		id, err = ResolveID(ctx, r, rc.Refs, version)
	}
	if err != nil {
		return Version{}, err
	}
	rec, err := lineage.Load(ctx, rc.Store, id)
	if err != nil {
		return Version{}, err
	}
	if rec.Type != lineage.TypeModel || rec.Name != model {
		return Version{}, fmt.Errorf("%s: record %s is a %s of %q, not a version of model %s", version, id.Short(), rec.Type, rec.Name, model)
	}
	return Version{ID: id, Number: rec.Number}, nil
}

// metricsOf returns a model version's metrics (its run's when it has
// none).
func metricsOf(ctx context.Context, s *objects.Store, id objects.ID) (map[string]float64, error) {
	rec, err := lineage.Load(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if len(rec.Metrics) == 0 && !rec.Run.IsZero() {
		run, err := lineage.Load(ctx, s, rec.Run)
		if err != nil {
			return nil, fmt.Errorf("run %s of %s: %w", rec.Run.Short(), id.Short(), err)
		}
		return run.Metrics, nil
	}
	return rec.Metrics, nil
}

// Rollback gives model's alias (default: dv.yaml's promotion.alias, else
// production) back to the version that held it before the current
// holder, and records it.
func Rollback(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, model, alias, reason string) (*Decision, error) {
	if alias == "" {
		c, err := workspace.LoadConfig(r.Root)
		if err != nil {
			return nil, err
		}
		f, err := LoadFraming(c)
		if err != nil {
			return nil, err
		}
		alias = cmp.Or(f.Promotion.Alias, DefaultAlias)
	}
	if err := ValidAlias(alias); err != nil {
		return nil, err
	}
	head, err := readHead(ctx, rc.Store, rc.Refs, model)
	if err != nil {
		return nil, err
	}
	cur := head.Holders[alias]
	if cur.IsZero() {
		return nil, fmt.Errorf("%s@%s: %w: nothing to roll back", model, alias, ErrNoHolder)
	}
	curEv, err := loadEvent(ctx, rc.Store, cur, model)
	if err != nil {
		return nil, err
	}
	prior := curEv.Promotion.Prior
	if prior.IsZero() {
		return nil, fmt.Errorf("%s@%s: v%d is its first holder: no previous holder to roll back to", model, alias, curEv.Promotion.ToNumber)
	}
	priorEv, err := loadEvent(ctx, rc.Store, prior, model)
	if err != nil {
		return nil, err
	}
	pp := priorEv.Promotion
	d := &Decision{Model: model, Alias: alias, Decision: DecisionRolledBack, Reason: reason,
		Candidate: Version{ID: pp.To, Number: pp.ToNumber},
		Baseline:  &Version{ID: curEv.Promotion.To, Number: curEv.Promotion.ToNumber}, Checks: []lineage.Check{}}
	p := lineage.Promotion{Alias: alias, Decision: DecisionRolledBack, Reason: reason, From: curEv.Promotion.To,
		FromNumber: curEv.Promotion.ToNumber, To: pp.To, ToNumber: pp.ToNumber, Prior: pp.Prior}
	if d.Event, err = appendEvent(ctx, rc, model, cur, p); err != nil {
		return d, err
	}
	return d, nil
}
