package api

import "testing"

// panelDecoders are the body decoders of the panel routes.
var panelDecoders = map[string]func([]byte) (panelOp, error){
	"meetings": decodePanelMeeting, "views": decodePanelViews, "proposals": decodePanelProposal,
	"votes": decodePanelVote, "conclusions": decodePanelConclusion, "reconsiderations": decodePanelReconsideration,
	"assurance": decodePanelAssurance, "close": decodePanelClose,
}

// FuzzDecodePanelBodies feeds every panel body decoder the same bytes: none
// panics, every refusal is a bodyError, and an accepted body is valid JSON
// that yields an operation to submit.
func FuzzDecodePanelBodies(f *testing.F) {
	f.Add([]byte(`{"held_at":"2025-03-03T09:00:00Z","attendance":[{"member":"chair","capacity":"adviser","chair":true}]}`))
	f.Add([]byte(`{"views":"wants to stay at school"}`))
	f.Add([]byte(`{"meeting":"6b1f3c2a9d8e4f5a6b7c8d9e0f1a2b3c","stages":["reasonable_grounds"]}`))
	f.Add([]byte(`{"proposal":"6b1f3c2a9d8e4f5a6b7c8d9e0f1a2b3c","stage":"reasonable_grounds","choice":"positive"}`))
	f.Add([]byte(`{"proposal":"p","reasons":"r","child_views_considered":"c","casting_votes":[{"stage":"conclusive_grounds","outcome":"negative"}]}`))
	f.Add([]byte(`{"decision":"d","grounds":"new_evidence","detail":"x"}`))
	f.Add([]byte(`{"decision":"d","status":"queried","query":"q"}`))
	f.Add([]byte(`{"reason":"withdrawn"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, decode := range panelDecoders {
			op, err := decode(b)
			checkDecodeErr(t, b, err)
			if err == nil && op == nil {
				t.Fatalf("%s accepted %q without an operation", name, b)
			}
		}
	})
}

// FuzzDecodeOpenPanelCase covers the bodies of opening a panel case and of
// adding a member, decoded strictly in their handlers.
func FuzzDecodeOpenPanelCase(f *testing.F) {
	f.Add([]byte(`{"case":"ISL-3f9a0c1b2d4e5f60","touches":["CMD"]}`))
	f.Add([]byte(`{"peer":"12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu","non_voter":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o openPanelCaseRequest
		checkDecodeErr(t, b, decodeStrict(b, &o))
		var m panelMemberRequest
		checkDecodeErr(t, b, decodeStrict(b, &m))
	})
}
