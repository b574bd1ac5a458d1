package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// kube drives Kubernetes with kubectl, so the user's kubeconfig, contexts
// and auth plugins apply.
type kube struct{}

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
	p := pods.Items[len(pods.Items)-1]
	st.Node = p.Spec.NodeName
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

func (kube) Log(ctx context.Context, j *Job, off int64) ([]byte, error) {
	out, err := run(ctx, nil, "kubectl", kubeArgs(j, "logs", "job/"+j.ID)...)
	if err != nil {
		return nil, nil // no pod yet, or it is gone
	}
	if int64(len(out)) <= off {
		return nil, nil
	}
	return out[off:], nil
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
