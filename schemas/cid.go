package schemas

import (
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// CID returns the content identifier of canonical bytes: CIDv1, codec DAG-CBOR,
// multihash sha2-256. Two nodes holding the same record compute the same CID.
func CID(canonical []byte) cid.Cid {
	mh, err := multihash.Sum(canonical, multihash.SHA2_256, -1)
	if err != nil {
		// sha2-256 with the default length cannot fail.
		panic(err)
	}
	return cid.NewCidV1(cid.DagCBOR, mh)
}
