package gossip

// EncodeProofRequest returns a well-formed audit proof request envelope, as
// a checker sends it.
func EncodeProofRequest(old, new int64) ([]byte, error) {
	return encodeProofRequest(&auditProofRequest{Old: old, New: new})
}

// DecodeProofResponse decodes an audit proof response envelope and returns
// its status.
func DecodeProofResponse(b []byte) (string, error) {
	r, err := decodeProofResponse(b)
	if err != nil {
		return "", err
	}
	return r.Status, nil
}
