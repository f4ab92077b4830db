package remote_test

import (
	"testing"

	"github.com/velalang/runtime/remote"
)

func TestQuickSeqReadsOnlyPlainAcknowledgements(t *testing.T) {
	for in, want := range map[string]uint64{
		`{"stream":"VELA_default","seq":1}`:        1,
		`{"stream":"VELA_default","seq":18446744}`: 18446744,
	} {
		if got, ok := remote.QuickSeq([]byte(in)); !ok || got != want {
			t.Errorf("quickSeq(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{
		``, `{}`, `{"stream":"X","seq":}`, `{"stream":"X","seq":5,"duplicate":true}`,
		`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"X","seq":0}`,
		`{"stream":"X","seq":12x}`,
	} {
		if _, ok := remote.QuickSeq([]byte(in)); ok {
			t.Errorf("quickSeq(%s) accepted it", in)
		}
	}
}
