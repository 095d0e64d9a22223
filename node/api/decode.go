package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
)

// rawJSON holds a nested JSON value decoded later, strictly, once its type
// is known.
type rawJSON = json.RawMessage

// maxJSONDepth bounds the nesting of a request body.
const maxJSONDepth = 16

// errBadBody is the root of every request-body error: the message says what
// is wrong and where.
var errBadBody = errors.New("bad request body")

// bodyError is a request body that cannot be decoded; code is the API's
// stable error code.
type bodyError struct {
	code string
	msg  string
}

func (e *bodyError) Error() string        { return e.msg }
func (e *bodyError) Is(target error) bool { return target == errBadBody }

func badBody(code, format string, args ...any) error {
	return &bodyError{code: code, msg: fmt.Sprintf(format, args...)}
}

// decodeStrict decodes one JSON object from b into v: no unknown field, no
// field twice, nothing after the object, nesting at most maxJSONDepth. Its
// errors name the field at fault.
func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return badBody("invalid_json", "the request body is empty; send a JSON object")
	}
	if err := checkShape(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return explainJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badBody("invalid_json", "the request body holds more than one JSON value; send exactly one object")
	}
	return nil
}

// explainJSON turns encoding/json's errors into messages naming the field.
func explainJSON(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tm *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return badBody("invalid_json", "the request body is not valid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badBody("invalid_json", "the request body must be a JSON object, not a %s", typ.Value)
		}
		return badBody("invalid_field", "field %s: a JSON %s cannot be a %s", field, typ.Value, jsonTypeName(typ.Type.String()))
	case errors.As(err, &tm):
		return badBody("invalid_field", "a time is not in RFC 3339 form (for example 2025-03-03T09:30:00Z): %q", tm.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badBody("invalid_json", "the request body ends in the middle of a JSON value")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return badBody("unknown_field", "unknown field %s: the API rejects fields it does not know (check the spelling against /v1/openapi)", f)
	}
	return badBody("invalid_json", "the request body cannot be decoded: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "list"
	case strings.Contains(goType, "int"):
		return "whole number"
	case goType == "bool":
		return "boolean (true or false)"
	case goType == "time.Time":
		return "time (RFC 3339 string)"
	case strings.Contains(goType, "struct") || strings.Contains(goType, "."):
		if strings.HasPrefix(goType, "v1.") || strings.HasPrefix(goType, "workflow.") || strings.HasPrefix(goType, "node.") {
			return "string"
		}
		return "object"
	}
	return goType
}

// shapeFrame is an object or list being walked by checkShape.
type shapeFrame struct {
	object bool
	path   string          // where the object or list is, e.g. "identity.names[]"
	keys   map[string]bool // keys seen in an object
	key    string          // the key whose value comes next, in an object
	atKey  bool            // in an object, the next token is a key (or '}')
}

// checkShape walks the tokens of b and refuses a key given twice in one
// object and nesting deeper than maxJSONDepth. encoding/json keeps the last
// of two duplicate keys silently, which lets a body say two things at once.
func checkShape(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*shapeFrame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return explainJSON(err)
		}
		var top *shapeFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.atKey {
			if tok == json.Delim('}') {
				stack = valueDone(stack[:len(stack)-1])
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return badBody("duplicate_field", "field %s is given twice", joinPath(top.path, key))
			}
			top.keys[key] = true
			top.key, top.atKey = key, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return badBody("invalid_json", "the request body is nested more than %d deep", maxJSONDepth)
			}
			path := ""
			if top != nil {
				path = top.path + "[]"
				if top.object {
					path = joinPath(top.path, top.key)
				}
			}
			obj := tok == json.Delim('{')
			stack = append(stack, &shapeFrame{object: obj, path: path, keys: map[string]bool{}, atKey: obj})
		case json.Delim(']'):
			stack = valueDone(stack[:len(stack)-1])
		default:
			stack = valueDone(stack)
		}
	}
}

// valueDone records that a value ended: in an object, a key comes next.
func valueDone(stack []*shapeFrame) []*shapeFrame {
	if len(stack) > 0 && stack[len(stack)-1].object {
		stack[len(stack)-1].atKey = true
	}
	return stack
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Event payloads: the "data" of an event request, by type. Fields are
// snake_case; times RFC 3339.
type (
	recordScopeData struct {
		InScope *bool  `json:"in_scope"`
		Reason  string `json:"reason"`
	}
	decisionData struct {
		Outcome         v1.Outcome `json:"outcome"`
		Reasons         string     `json:"reasons"`
		ChildViews      string     `json:"child_views"`
		PanelDecisionID v1.ID      `json:"panel_decision_id,omitempty"`
		DecidedAt       *time.Time `json:"decided_at,omitempty"`
		DecidedBy       string     `json:"decided_by,omitempty"`
	}
	sameMeetingData struct {
		CGOutcome       v1.Outcome `json:"cg_outcome"`
		RGReasons       string     `json:"rg_reasons"`
		CGReasons       string     `json:"cg_reasons"`
		ChildViews      string     `json:"child_views"`
		PanelDecisionID v1.ID      `json:"panel_decision_id,omitempty"`
		DecidedAt       *time.Time `json:"decided_at,omitempty"`
		DecidedBy       string     `json:"decided_by,omitempty"`
	}
	reconsiderationData struct {
		Stage   v1.DecisionStage          `json:"stage"`
		Grounds v1.ReconsiderationGrounds `json:"grounds"`
		By      string                    `json:"by,omitempty"`
	}
	decideReconsiderationData struct {
		Accepted *bool  `json:"accepted"`
		Reasons  string `json:"reasons"`
	}
	recordAssuranceData struct {
		Assured *bool  `json:"assured"`
		Query   string `json:"query,omitempty"`
	}
	postExitReviewData struct {
		Month   int    `json:"month"`
		Outcome string `json:"outcome"`
	}
	closeData struct {
		Code   v1.ClosureReason `json:"code,omitempty"`
		Reason string           `json:"reason"`
	}
	transferInConferenceData struct {
		Request v1.ID      `json:"request,omitempty"`
		HeldAt  *time.Time `json:"held_at,omitempty"`
	}
	safeguardingData struct {
		Safeguarding *safeguarding `json:"safeguarding"`
	}
	rateRiskData struct {
		Rating v1.RAG       `json:"rating"`
		Stage  v1.RiskStage `json:"stage"`
		Reason string       `json:"reason,omitempty"`
	}
	childViewsData struct {
		Views         string `json:"views"`
		HowConsidered string `json:"how_considered,omitempty"`
	}
	advocateData struct {
		Kind         v1.AdvocateKind `json:"kind"`
		Name         string          `json:"name"`
		Organisation string          `json:"organisation,omitempty"`
	}
	leadWorkerData struct {
		// LeadWorker is a user ID of this node; empty leaves the case
		// unallocated.
		LeadWorker string `json:"lead_worker"`
	}
	emptyData struct{}
)

// eventTypes lists the event types the API accepts, in process order.
// transfer_out is not among them: the relocation hand-over makes it.
var eventTypes = []workflow.EventKind{
	workflow.KindStartScopeCheck, workflow.KindRecordScope, workflow.KindRecordRGDecision,
	workflow.KindRecordCGDecision, workflow.KindRecordSameMeeting, workflow.KindStartRecoveryPeriod,
	workflow.KindStartConclusiveGrounds, workflow.KindRequestReconsideration,
	workflow.KindDecideReconsideration, workflow.KindSubmitAssurance, workflow.KindRecordAssurance,
	workflow.KindExitProcess, workflow.KindRecordPostExitReview, workflow.KindClose,
	workflow.KindUpdateSafeguarding, workflow.KindRateRisk, workflow.KindRecordChildViews,
	workflow.KindAssignAdvocate, workflow.KindRecordTransferInConference, workflow.KindAssignLeadWorker,
}

// decodeEvent decodes the body of POST /v1/cases/{id}/events into the
// revision it was made from and a workflow event.
func decodeEvent(b []byte) (uint64, workflow.Event, error) {
	var req eventRequest
	if err := decodeStrict(b, &req); err != nil {
		return 0, nil, err
	}
	if req.Revision == 0 {
		return 0, nil, badBody("invalid_field", "field revision is required: the revision of the case the event was made from")
	}
	data := []byte(req.Data)
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		data = []byte("{}")
	}
	sub := func(v any) error {
		if err := decodeStrict(data, v); err != nil {
			var be *bodyError
			if errors.As(err, &be) {
				be.msg = "in data: " + be.msg
			}
			return err
		}
		return nil
	}
	required := func(field string, ok bool) error {
		if !ok {
			return badBody("invalid_field", "field data.%s is required for a %s event", field, string(req.Type))
		}
		return nil
	}
	var ev workflow.Event
	var err error
	switch req.Type {
	case workflow.KindStartScopeCheck, workflow.KindStartRecoveryPeriod, workflow.KindStartConclusiveGrounds,
		workflow.KindSubmitAssurance, workflow.KindExitProcess:
		err = sub(&emptyData{})
		ev = map[workflow.EventKind]workflow.Event{
			workflow.KindStartScopeCheck:        workflow.StartScopeCheck{},
			workflow.KindStartRecoveryPeriod:    workflow.StartRecoveryPeriod{},
			workflow.KindStartConclusiveGrounds: workflow.StartConclusiveGrounds{},
			workflow.KindSubmitAssurance:        workflow.SubmitAssurance{},
			workflow.KindExitProcess:            workflow.ExitProcess{},
		}[req.Type]
	case workflow.KindRecordScope:
		var d recordScopeData
		if err = sub(&d); err == nil {
			if err = required("in_scope", d.InScope != nil); err == nil {
				ev = workflow.RecordScope{InScope: *d.InScope, Reason: d.Reason}
			}
		}
	case workflow.KindRecordRGDecision, workflow.KindRecordCGDecision:
		var d decisionData
		if err = sub(&d); err == nil {
			stage := v1.StageRG
			if req.Type == workflow.KindRecordCGDecision {
				stage = v1.StageCG
			}
			ev = workflow.RecordDecision{Stage: stage, Outcome: d.Outcome, Reasons: d.Reasons, ChildViews: d.ChildViews,
				PanelDecisionID: d.PanelDecisionID, DecidedAt: timeOrZero(d.DecidedAt), DecidedBy: d.DecidedBy}
		}
	case workflow.KindRecordSameMeeting:
		var d sameMeetingData
		if err = sub(&d); err == nil {
			ev = workflow.RecordDecisions{CGOutcome: d.CGOutcome, RGReasons: d.RGReasons, CGReasons: d.CGReasons,
				ChildViews: d.ChildViews, PanelDecisionID: d.PanelDecisionID, DecidedAt: timeOrZero(d.DecidedAt), DecidedBy: d.DecidedBy}
		}
	case workflow.KindRequestReconsideration:
		var d reconsiderationData
		if err = sub(&d); err == nil {
			ev = workflow.RequestReconsideration{Stage: d.Stage, Grounds: d.Grounds, By: d.By}
		}
	case workflow.KindDecideReconsideration:
		var d decideReconsiderationData
		if err = sub(&d); err == nil {
			if err = required("accepted", d.Accepted != nil); err == nil {
				ev = workflow.DecideReconsideration{Accepted: *d.Accepted, Reasons: d.Reasons}
			}
		}
	case workflow.KindRecordAssurance:
		var d recordAssuranceData
		if err = sub(&d); err == nil {
			if err = required("assured", d.Assured != nil); err == nil {
				ev = workflow.RecordAssurance{Assured: *d.Assured, Query: d.Query}
			}
		}
	case workflow.KindRecordPostExitReview:
		var d postExitReviewData
		if err = sub(&d); err == nil {
			ev = workflow.RecordPostExitReview{Month: d.Month, Outcome: d.Outcome}
		}
	case workflow.KindClose:
		var d closeData
		if err = sub(&d); err == nil {
			ev = workflow.Close{Code: d.Code, Reason: d.Reason}
		}
	case workflow.KindUpdateSafeguarding:
		var d safeguardingData
		if err = sub(&d); err == nil {
			if err = required("safeguarding", d.Safeguarding != nil); err == nil {
				ev = workflow.UpdateSafeguarding{Safeguarding: d.Safeguarding.toV1()}
			}
		}
	case workflow.KindRateRisk:
		var d rateRiskData
		if err = sub(&d); err == nil {
			ev = workflow.RateRisk{RAG: d.Rating, Stage: d.Stage, Reason: d.Reason}
		}
	case workflow.KindRecordChildViews:
		var d childViewsData
		if err = sub(&d); err == nil {
			ev = workflow.RecordChildViews{Views: d.Views, HowConsidered: d.HowConsidered}
		}
	case workflow.KindAssignAdvocate:
		var d advocateData
		if err = sub(&d); err == nil {
			ev = workflow.AssignAdvocate{AdvocateKind: d.Kind, Name: d.Name, Organisation: d.Organisation}
		}
	case workflow.KindRecordTransferInConference:
		var d transferInConferenceData
		if err = sub(&d); err == nil {
			ev = workflow.RecordTransferInConference{Request: d.Request, HeldAt: timeOrZero(d.HeldAt)}
		}
	case workflow.KindAssignLeadWorker:
		var d leadWorkerData
		if err = sub(&d); err == nil {
			ev = workflow.AssignLeadWorker{Worker: d.LeadWorker}
		}
	case "":
		return 0, nil, badBody("invalid_field", "field type is required: one of %s", kindList(eventTypes))
	default:
		return 0, nil, badBody("invalid_field", "field type: %.40q is not an event the API accepts; one of %s", string(req.Type), kindList(eventTypes))
	}
	if err != nil {
		return 0, nil, err
	}
	return req.Revision, ev, nil
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func kindList(ks []workflow.EventKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// decodeCreateCase decodes the body of POST /v1/cases.
func decodeCreateCase(b []byte) (*createCaseRequest, error) {
	var req createCaseRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// decodeViews decodes the body of POST /v1/cases/{id}/views.
func decodeViews(b []byte) (*viewsRequest, error) {
	var req viewsRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Views) == "" {
		return nil, badBody("invalid_field", "field views is required: the child's wishes and feelings, in their words where possible")
	}
	return &req, nil
}

// decodeCreateUser decodes the body of POST /v1/users.
func decodeCreateUser(b []byte) (*createUserRequest, error) {
	var req createUserRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	return &req, nil
}
