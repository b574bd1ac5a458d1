package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// kube drives Kubernetes with kubectl, so the user's kubeconfig, contexts
// and auth plugins apply. cur, when set, is how far Log has read.
type kube struct{ cur *kubeCursor }

func kubeArgs(j *Job, args ...string) []string {
	var out []string
	if j.Context != "" {
		out = append(out, "--context", j.Context)
	}
	if j.Namespace != "" {
		out = append(out, "--namespace", j.Namespace)
	}
	return append(out, args...)
}

func (kube) Submit(ctx context.Context, j *Job, manifest []byte) (string, error) {
	args := []string{"apply", "-f", "-"}
	if kubectlMinor(ctx) < 25 {
		// Before 1.25 kubectl validates on the client, from the server's
		// OpenAPI v2 document; the API server validates the Job anyway.
		// From 1.25 the server validates (fieldValidation=Strict).
		args = append(args, "--validate=false")
	}
	_, err := run(ctx, manifest, "kubectl", kubeArgs(j, args...)...)
	var ce *commandError
	if errors.As(err, &ce) {
		return "", &RefusedError{Engine: "kubernetes", Msg: ce.msg}
	}
	if err != nil {
		return "", err
	}
	return j.ID, nil
}

// kubeJobStatus is the part of a Job's status dv reads.
type kubeJobStatus struct {
	Status struct {
		Active     int `json:"active"`
		Succeeded  int `json:"succeeded"`
		Failed     int `json:"failed"`
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

type kubePods struct {
	Items []struct {
		Metadata struct {
			Name              string `json:"name"`
			CreationTimestamp string `json:"creationTimestamp"`
		} `json:"metadata"`
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
		Status struct {
			Phase             string `json:"phase"`
			Reason            string `json:"reason"`
			ContainerStatuses []struct {
				State struct {
					Waiting *struct {
						Reason  string `json:"reason"`
						Message string `json:"message"`
					} `json:"waiting"`
					Terminated *struct {
						ExitCode int    `json:"exitCode"`
						Reason   string `json:"reason"`
					} `json:"terminated"`
				} `json:"state"`
			} `json:"containerStatuses"`
		} `json:"status"`
	} `json:"items"`
}

func (kube) State(ctx context.Context, j *Job) (JobState, error) {
	out, err := run(ctx, nil, "kubectl", kubeArgs(j, "get", "job", j.ID, "-o", "json")...)
	var ce *commandError
	if errors.As(err, &ce) && kubeGone(ce.msg, j) {
		return JobState{State: StateLost, Final: true, Reason: "kubernetes no longer has Job " + j.ID}, nil
	}
	if err != nil {
		return JobState{}, err
	}
	var js kubeJobStatus
	if err := json.Unmarshal(out, &js); err != nil {
		return JobState{}, fmt.Errorf("kubectl get job %s: %w", j.ID, err)
	}
	st := JobState{State: StatePending}
	if js.Status.Active > 0 {
		st.State = StateRunning
	}
	for _, c := range js.Status.Conditions {
		if c.Status != "True" {
			continue
		}
		switch c.Type {
		case "Complete":
			st = JobState{State: StateSucceeded, Final: true}
		case "Failed":
			st = JobState{State: StateFailed, Final: true, Reason: strings.TrimSpace(c.Reason + ": " + c.Message)}
			if c.Reason == "DeadlineExceeded" {
				st.State = StateTimeout
			}
		}
	}
	if st.State == StateRunning || st.Final {
		kubePodState(ctx, j, &st)
	}
	return st, nil
}

// kubeGone says whether kubectl's message is the API server's own answer
// (NotFound) that the Job, or its namespace, does not exist. Any other
// failure (an auth plugin not found, the server unreachable) says nothing
// about the Job, and the caller asks again.
func kubeGone(msg string, j *Job) bool {
	if !strings.Contains(msg, "(NotFound)") {
		return false
	}
	if strings.Contains(msg, fmt.Sprintf("jobs.batch %q not found", j.ID)) {
		return true
	}
	return j.Namespace != "" && strings.Contains(msg, fmt.Sprintf("namespaces %q not found", j.Namespace))
}

// kubePodState adds the node and exit code of the job's pod.
func kubePodState(ctx context.Context, j *Job, st *JobState) {
	out, err := run(ctx, nil, "kubectl", kubeArgs(j, "get", "pods", "-l", "job-name="+j.ID, "-o", "json")...)
	if err != nil {
		return
	}
	var pods kubePods
	if json.Unmarshal(out, &pods) != nil || len(pods.Items) == 0 {
		return
	}
	// The newest pod: after a retry (backoff_limit), the one running now.
	p := pods.Items[0]
	for _, q := range pods.Items[1:] {
		if q.Metadata.CreationTimestamp >= p.Metadata.CreationTimestamp {
			p = q
		}
	}
	st.Node, st.Pod = p.Spec.NodeName, p.Metadata.Name
	for _, cs := range p.Status.ContainerStatuses {
		if wt := cs.State.Waiting; wt != nil && unpullable[wt.Reason] {
			// The image cannot be pulled: waiting would last until the
			// deadline. The job counts as failed now.
			st.State, st.Final, st.Stop = StateFailed, true, true
			st.Reason = strings.TrimSpace("image " + wt.Reason + ": " + wt.Message)
		}
		if t := cs.State.Terminated; t != nil {
			st.ExitCode = t.ExitCode
			if st.State == StateFailed && t.Reason != "" && t.Reason != "Error" {
				st.Reason = t.Reason
			}
		}
	}
	if p.Status.Reason == "Evicted" {
		st.State, st.Final, st.Reason = StateLost, true, "pod evicted"
	}
}

// unpullable are the reasons a container waits for an image it will not get.
var unpullable = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// Log returns the log of the job's pod (the newest, once State named it)
// not returned before: kubectl logs --timestamps, from the second of the
// last line read (--since-time), so that each poll fetches about what is
// new, not the whole log. Off 0 starts over, as does a new pod (a retry):
// its log is its own, from its start.
func (k kube) Log(ctx context.Context, j *Job, off int64) ([]byte, error) {
	target := "job/" + j.ID
	if j.Pod != "" {
		target = "pod/" + j.Pod
	}
	cur := k.cur
	if cur == nil {
		cur = &kubeCursor{}
	}
	switch {
	case off == 0:
		*cur = kubeCursor{target: target}
	case cur.target == "job/"+j.ID && j.Pod != "":
		cur.target = target // the pod kubectl chose, now named
	case cur.target != target:
		*cur = kubeCursor{target: target} // a new pod
	}
	args := []string{"logs", target, "--timestamps"}
	if !cur.last.IsZero() {
		args = append(args, "--since-time="+cur.last.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	out, err := run(ctx, nil, "kubectl", kubeArgs(j, args...)...)
	if err != nil {
		return nil, nil // no pod yet, or it is gone
	}
	return cur.take(out), nil
}

// kubeCursor is how far the log of one pod has been read: the timestamp of
// the last line returned, and how many lines with that very timestamp
// were returned (a --since-time fetch gives them again).
type kubeCursor struct {
	target string
	last   time.Time
	n      int
}

// take returns the lines of out (kubectl logs --timestamps) not returned
// before, without their timestamps.
func (c *kubeCursor) take(out []byte) []byte {
	var b bytes.Buffer
	prev, prevN, atPrev := c.last, c.n, 0
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i+1], out[i+1:]
		} else {
			out = nil
		}
		ts, text, _ := bytes.Cut(line, []byte(" "))
		t, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil {
			b.Write(line) // no timestamp: as it is
			continue
		}
		if t.Before(prev) {
			continue
		}
		if t.Equal(prev) {
			if atPrev++; atPrev <= prevN {
				continue
			}
		}
		b.Write(text)
		if t.Equal(c.last) {
			c.n++
		} else {
			c.last, c.n = t, 1
		}
	}
	return b.Bytes()
}

func (kube) Cancel(ctx context.Context, j *Job) error {
	_, err := run(ctx, nil, "kubectl", kubeArgs(j, "delete", "job", j.ID, "--cascade=background", "--wait=false")...)
	return err
}

// kubectlMinor returns kubectl's minor version (0 when it cannot say).
func kubectlMinor(ctx context.Context) int {
	out, err := run(ctx, nil, "kubectl", "version", "--client", "-o", "json")
	if err != nil {
		return 0
	}
	var v struct {
		ClientVersion struct {
			Minor string `json:"minor"`
		} `json:"clientVersion"`
	}
	if json.Unmarshal(out, &v) != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimRight(v.ClientVersion.Minor, "+"))
	return n
}
