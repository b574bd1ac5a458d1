package objects

import (
	"errors"
	"io"
)

// Content-defined chunking (FastCDC family).
//
// Everything in this file is part of storage format version 1: the
// parameters, the masks, the gear table and the exact cut-point rule decide
// where chunk boundaries fall, hence which chunk objects exist and how well
// data deduplicates against what is already stored. Changing any of them
// changes the chunking of every file. They are specified in docs/CHUNKING.md
// and pinned by the tests in chunker_test.go; do not edit them.

// Chunk size parameters of format version 1, in bytes. Every chunk except the
// last chunk of a stream has ChunkMin <= len <= ChunkMax; the last chunk may be
// shorter than ChunkMin (a non-empty stream of at most ChunkMin bytes is a
// single chunk). ChunkAvg is the normalization point; the resulting mean chunk
// size on random data is about 72 KiB.
const (
	ChunkMin = 16 << 10
	ChunkAvg = 64 << 10
	ChunkMax = 256 << 10
)

// Normalized chunking, level 2 (FastCDC): a cut is taken after a byte when
// the rolling gear hash has all bits of the active mask clear. Before
// ChunkAvg the mask has log2(ChunkAvg)+2 = 18 bits (cut probability 2^-18
// per byte), from ChunkAvg on it has log2(ChunkAvg)-2 = 14 bits (2^-14).
// The masks use the top bits of the hash: bit k of the gear hash depends on
// the last k+1 bytes only, so the top bits give the widest window (64 bytes).
const (
	maskS uint64 = 0xffffc00000000000 // top 18 bits, chunk lengths < ChunkAvg
	maskL uint64 = 0xfffc000000000000 // top 14 bits, chunk lengths >= ChunkAvg
)

// gearWindow is the number of bytes that influence the gear hash (its width in
// bits: each byte's contribution is shifted out after 64 more bytes).
const gearWindow = 64

// cutPoint returns the length of the first chunk of data: the smallest L with
// ChunkMin <= L <= min(len(data), ChunkMax) such that
//
//	h(L) & maskS == 0  if L < ChunkAvg
//	h(L) & maskL == 0  if L >= ChunkAvg
//
// where h(L) = sum over j in [0, 64) of gear[data[L-1-j]] << j (mod 2^64) is
// the gear hash of the 64 bytes ending at L. Without such an L it returns
// min(len(data), ChunkMax). If len(data) <= ChunkMin it returns len(data).
//
// The result depends only on data[:ChunkMax]; a caller that has not reached
// the end of its stream must pass at least ChunkMax bytes.
func cutPoint(data []byte) int {
	n := len(data)
	if n <= ChunkMin {
		return n
	}
	if n > ChunkMax {
		n = ChunkMax
	}
	// Byte i (0-based) ends a chunk of length i+1. Lengths below ChunkAvg use
	// maskS: byte indices [ChunkMin-1, ChunkAvg-1).
	normal := ChunkAvg - 1
	if normal > n {
		normal = n
	}

	// Warm up on the 63 bytes before the first candidate so that h is a
	// function of exactly the 64-byte window at every candidate position.
	var h uint64
	for _, b := range data[ChunkMin-gearWindow : ChunkMin-1] {
		h = h<<1 + gear[b]
	}
	i := ChunkMin - 1
	k, h, hit := gearScan(h, data[i:normal], maskS)
	if hit {
		return i + k
	}
	i = normal
	if k, _, hit = gearScan(h, data[i:n], maskL); hit {
		return i + k
	}
	return n
}

// gearScan rolls the bytes of p into the gear hash h, one at a time, and
// stops at the first byte after which h&mask == 0: it returns the number of
// bytes rolled in up to and including that byte, the hash, and true; or
// len(p), the hash after all of p, and false. It is the loop
//
//	for i, b := range p {
//		if h = h<<1 + gear[b]; h&mask == 0 {
//			return i + 1, h, true
//		}
//	}
//	return len(p), h, false
//
// sixteen bytes at a time: within a group of four, the hashes after each
// byte are computed from the hash before the group (h<<2 + (g0<<1 + g1),
// ...), so the chain of dependent additions is two instructions per four
// bytes rather than two per byte; cutPoint runs about twice as fast
// (BenchmarkChunker). TestChunkerReference checks it against the rule.
func gearScan(h uint64, p []byte, mask uint64) (int, uint64, bool) {
	// Written out by hand: a helper for the group of four is over the
	// compiler's inlining budget, and a call per group costs a third.
	i := 0
	for ; len(p)-i >= 16; i += 16 {
		d := p[i : i+16 : i+16]
		g0, g1, g2, g3 := gear[d[0]], gear[d[1]], gear[d[2]], gear[d[3]]
		t := g0<<1 + g1
		h0, h1 := h<<1+g0, h<<2+t
		h2, h3 := h1<<1+g2, h<<4+(t<<2+(g2<<1+g3))
		if h0&mask == 0 || h1&mask == 0 || h2&mask == 0 || h3&mask == 0 {
			break
		}
		g0, g1, g2, g3 = gear[d[4]], gear[d[5]], gear[d[6]], gear[d[7]]
		t = g0<<1 + g1
		h0, h1 = h3<<1+g0, h3<<2+t
		h2, h = h1<<1+g2, h3<<4+(t<<2+(g2<<1+g3))
		if h0&mask == 0 || h1&mask == 0 || h2&mask == 0 || h&mask == 0 {
			i, h = i+4, h3
			break
		}
		g0, g1, g2, g3 = gear[d[8]], gear[d[9]], gear[d[10]], gear[d[11]]
		t = g0<<1 + g1
		h0, h1 = h<<1+g0, h<<2+t
		h2, h3 = h1<<1+g2, h<<4+(t<<2+(g2<<1+g3))
		if h0&mask == 0 || h1&mask == 0 || h2&mask == 0 || h3&mask == 0 {
			i += 8
			break
		}
		g0, g1, g2, g3 = gear[d[12]], gear[d[13]], gear[d[14]], gear[d[15]]
		t = g0<<1 + g1
		h0, h1 = h3<<1+g0, h3<<2+t
		h2, h = h1<<1+g2, h3<<4+(t<<2+(g2<<1+g3))
		if h0&mask == 0 || h1&mask == 0 || h2&mask == 0 || h&mask == 0 {
			i, h = i+12, h3
			break
		}
	}
	// The rest, or the group of four with a hit: byte by byte.
	for ; i < len(p); i++ {
		if h = h<<1 + gear[p[i]]; h&mask == 0 {
			return i + 1, h, true
		}
	}
	return len(p), h, false
}

// chunkerBufSize is the size of a Chunker's read buffer.
const chunkerBufSize = 4 * ChunkMax

// maxEmptyReads is how many consecutive (0, nil) reads are tolerated before
// Next gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// Chunker splits a stream into content-defined chunks.
//
// The chunk boundaries depend only on the content of the stream, never on how
// the underlying reader splits its reads. A Chunker is not safe for
// concurrent use.
type Chunker struct {
	r     io.Reader
	buf   []byte // read buffer, allocated once, len chunkerBufSize
	start int    // unconsumed data is buf[start:end]
	end   int
	eof   bool  // r returned io.EOF
	err   error // sticky error (a read error other than io.EOF)
}

// NewChunker returns a Chunker reading from r. It allocates its buffer once;
// use Reset to reuse it for another stream.
func NewChunker(r io.Reader) *Chunker {
	c := &Chunker{buf: make([]byte, chunkerBufSize)}
	c.Reset(r)
	return c
}

// Reset makes c read a new stream from r, discarding any state of the
// previous stream and reusing the buffer. Slices previously returned by Next
// become invalid.
func (c *Chunker) Reset(r io.Reader) {
	if c.buf == nil {
		c.buf = make([]byte, chunkerBufSize)
	}
	c.r = r
	c.start, c.end = 0, 0
	c.eof = false
	c.err = nil
}

// Next returns the next chunk. The slice is valid until the next call to Next
// or Reset. It returns io.EOF (and a nil slice) after the last chunk. An empty
// stream yields no chunks. A read error other than io.EOF is returned as is
// (with a nil slice) and by every later call to Next; data read but not yet
// returned as a chunk is then lost.
func (c *Chunker) Next() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.end-c.start < ChunkMax && !c.eof {
		c.fill()
		if c.err != nil {
			return nil, c.err
		}
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := cutPoint(c.buf[c.start:c.end])
	chunk := c.buf[c.start : c.start+n : c.start+n]
	c.start += n
	return chunk, nil
}

// fill moves the unconsumed data to the front of the buffer and reads until
// the buffer is full, the reader is at EOF or a read fails.
func (c *Chunker) fill() {
	if c.r == nil {
		c.err = errors.New("objects: Chunker used without a reader")
		return
	}
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	empty := 0
	for c.end < len(c.buf) {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = errors.New("objects: invalid Read count")
			return
		}
		c.end += n
		switch {
		case err == io.EOF:
			c.eof = true
			return
		case err != nil:
			c.err = err
			return
		case n == 0:
			empty++
			if empty >= maxEmptyReads {
				c.err = io.ErrNoProgress
				return
			}
		default:
			empty = 0
		}
	}
}

// gear is the gear hash table of format version 1: gear[i] is the (i+1)-th
// output of SplitMix64 seeded with 0x64762d6765617231 (the ASCII bytes
// "dv-gear1"), i.e. with state starting at the seed:
//
//	state += 0x9e3779b97f4a7c15
//	z := state
//	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
//	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
//	gear[i] = z ^ (z >> 31)
//
// It is a literal so that it costs nothing at start-up; TestChunkerGearTable
// checks it against the generator.
var gear = [256]uint64{
	0xe3b6fb1392f4fe8c, 0xe5310827794f7004, 0xbc223d369ef148dd, 0x67ae273b3b0a6076,
	0xf6be2c2f1e1add2d, 0xfc264e59d2dd7c6e, 0x27a9538888dff208, 0xe6751b5af197df5f,
	0xe3466765c2595e4f, 0x6d05d31bb5a32762, 0x94ed0785add52445, 0x05f0fb5fdd3e87a7,
	0xb41d79ab77dfcca4, 0x7431c9c0ceedc0cc, 0x2d4e818e1144d2f2, 0xc358352b2bc43fb6,
	0x1ec722b1b44726c8, 0x44b169c40ae5887f, 0x9ef861a7629b3c85, 0x0d4ff8285c02ed9f,
	0xa37922529c2e00ce, 0x5ded6df00fcfb19c, 0xc22b7663983fe3c8, 0xd63f9dd941b223af,
	0x6f3b6a2b58f070ef, 0x495b10b038ac7cf1, 0xeca3b8f919677963, 0xcd0c0e28603bc6e2,
	0x638f29f74213c517, 0x16abd08c97b84e35, 0x899ee09117e36961, 0x7e2c14d3ca2f901f,
	0x370853ad966303df, 0xe4145f3791ada5bc, 0x8b7c0f248af0b2cb, 0xca58bf4aa33e9d6e,
	0x820f076b8a429e3d, 0xedecd2e3d1b5ae22, 0xa33fbb8eb69736b3, 0x4834d5c618ff4281,
	0x8c8230e44545c5d0, 0xb3ff03f22c76b1b0, 0x07c841b55cff9eed, 0x57592c3eb70967e1,
	0x914c0f32f725f7c9, 0xd0235c5cd5c0fe4f, 0x42ef0f74d896e394, 0x52a4473ffc241091,
	0xea5dd0f420ed6482, 0x24ad7ec6a3fb632e, 0x903de0a01363ac26, 0x5a8233550097aa3a,
	0x525a0ab83d27d20f, 0xadb0dfdd01d6cce4, 0xcb3f00f8a1e1425f, 0xf19d846516215a99,
	0xc1f0e2e3ae03c64a, 0x39ff91d45e903f25, 0x9ec9a40376cde70b, 0x02ecfdb2be90f2ed,
	0x661af1edfb6ed03d, 0x52dd394d186129cf, 0x0543d946531243b6, 0x58967e2c494b987e,
	0x12042bf608f6fe32, 0x010f6d1df1ae6e71, 0x203270807d89d67e, 0x08d3870db2c76a6b,
	0x4d7af5aebd288546, 0xeae309ef92a4f636, 0xf22ecbb2f34fb25a, 0x68372a8aadee439e,
	0x29c449258ceda24d, 0xfd933c06a2ec694d, 0x7099f7448c62678a, 0x1304e65f6400f1ef,
	0x58bd9213d72958e8, 0xf2a51cd02a1defde, 0xea2637348c070f3c, 0x29a3fe3e5d5f8456,
	0x9e7852c6be323de6, 0x05f5224c6412101b, 0xfd62df662e5d574f, 0xccf255add20f0c2e,
	0x49ec2fa11dbaa686, 0xab66c364151636be, 0xc04f600970347492, 0x0ba04d6fa4bb40b1,
	0xa7ddfe8a3fe674d7, 0x21e670ac0a59586e, 0x268973782ebf66d5, 0xd154765fe0e3080d,
	0xc4e463d402c76937, 0x2f8048d01d31e2f9, 0xf99478294db572ef, 0xc9648518ab708f7c,
	0x2b40117cb2cab179, 0x866dca4bca7958a0, 0xcb1258c72ab64c36, 0x0e21f84c340ab67b,
	0x289f73956328232e, 0xc29bf6c3e5755516, 0xdd6126de210bf9e2, 0x9d26599bf21a8f06,
	0x822cf5be9f09ff63, 0x5c6112887be906f1, 0xf2eb688534c8fba8, 0x7c753eab8bd5a853,
	0x5e6c18fae34a6e31, 0x199b245f9393edb9, 0x9cc42d33f7df91ee, 0x7c761acafa3b002f,
	0x39eb2d57e7ac056d, 0x0a355c02e843a48f, 0xc40b83279a8bb618, 0xa199ca715d2f52ed,
	0x322f10b30ba42f21, 0xa0c8bcf05dc69b9e, 0x5becbd21096e48a8, 0xbcb49253ed3910d3,
	0x974ced97c10699ff, 0xe83c77f89d71b542, 0xcd93adfd546d72b2, 0x733eb7f2439d9f63,
	0x68609a12c435bc5a, 0xdff813f728e60d3a, 0x81b145c8c7c71a83, 0x7c9d5e400769d6d2,
	0x70abd5ba507e64d7, 0xc40658f4c235ffed, 0xe36ef091df530550, 0x265385aff73bba0c,
	0x799a912d14cf3454, 0xbf47a6c6e2634d93, 0x86029f806b81bf8c, 0xaf8fe99ebcc652dc,
	0x2e0c7e911e89b9b5, 0x1cc01a02599533df, 0xb1a80da528e51921, 0xb57738859734abdb,
	0x1f06dd9e0cd0d47a, 0x4c1ed1e68d885f86, 0xab5fb692dc109d7e, 0xb4ce85cc77dbacbc,
	0x0924f1bf7e3ab850, 0x671f3a15b77c8ba4, 0x2f4c3569e8a4fb15, 0x6ad46157d0de113d,
	0x572df9f67daf8e53, 0x0036c4bca8668e41, 0xa32019b674ae5c00, 0xa4d5f4e01c72a555,
	0x31adfd8b00b48ea9, 0x1096376cbd1277c6, 0x0ed7d701b032f627, 0x61f48cf0d6f69091,
	0x14d32e736ca5809a, 0x8dabb89199234432, 0xb61bf3d5854ce42c, 0x8d1943e08ade3802,
	0x08d6a7a5209b80db, 0x5088c032cb8974d8, 0x9115411ef1004371, 0x901d6ecba35cb518,
	0x3367ed51674b5db1, 0x0d57c25532dce14c, 0xf067d10adc65086b, 0x56df2fa3555cef49,
	0xcc52e6c67dd0cf10, 0x69a631167a622e29, 0xaf870e3502e877d8, 0xa407ccdf27462cb2,
	0xfbde5b0a3bcb1ebe, 0x0208467063eb39e7, 0xe7998709bae5bfc2, 0xbeaec10cf07cf307,
	0x60938b80a2f39ab4, 0xa316ebb89ff2ec84, 0xa611cce80f0030e7, 0xf8b1636806a0c740,
	0xd0042f101dbc1e38, 0x657893a52107b88e, 0xb4c0d78cc47b5e33, 0x5ba718ba64c821c4,
	0xd0f0e3bb5a4e1cdd, 0xa6d11c487693c285, 0xa595915a1df3a128, 0x4b1378dc72a93495,
	0xf9175e92e4891073, 0x0ba40a101aea35fd, 0xada994582390ddf5, 0x0ca36ef758be7e8f,
	0x66e9fb1782abbc70, 0xc4d50e72e3c01ed7, 0x6d7e9fb3ca1dc7ee, 0xd33679bd0297744c,
	0x39064ffca82806f2, 0xa06108d760f0a6ae, 0x02195cedf839f681, 0xd90f65345170538f,
	0x701450cc361d9717, 0x363754a2cce10d3a, 0x570d17cc1a640a4c, 0x663a03a1944da30d,
	0xa2958cc0f0348557, 0xa8d46ff0e649e719, 0x20306fe0b470829d, 0x3c878ca71756d341,
	0x5da990c60adaf213, 0xf802447e9d61d994, 0xef41aea0c5394eb7, 0x962905f1f8261399,
	0xe65c1990437c6260, 0x1b0dda81b9e090c4, 0x79ebe7dcc873c56f, 0x2c9907b683875aae,
	0xbb7e4f6df0a7f44d, 0x8f7a5bf2fa724177, 0x19cce63a43e03385, 0x3468f9957571363f,
	0x49545ee16fa5a1c7, 0x241149b84893e08e, 0xadb809fffb0d8cec, 0xf95ce363e2727565,
	0xc8f26f76db56fc95, 0x1281149723f05e59, 0xbdb20b71244121ff, 0x1997414e569a5269,
	0x5b35cfda6cfcf6a6, 0xfd3f9b4b73814aec, 0x3007d26de0e81477, 0x9f9773cf5578acda,
	0xedcbda848190131a, 0x1b19cf23ed300a04, 0xf60300d1d92c52f3, 0x55c9f89d7e714f31,
	0x9580ae8eb0cf0df5, 0xe91fbe258e91df00, 0x5e2142c1afc2bcaa, 0xda81d60175a2be1b,
	0x9de5833eb06da753, 0xae85edf88cd1e13b, 0x63c7b726b14831dd, 0x5778e4ec60f8f475,
	0x15a9fa3a865a7d38, 0x71ab39566c110674, 0xb5aaa39a86efc213, 0x51ee8cc1e42ebf3f,
	0xadbcef95681f5b25, 0x6c5e18e61899bdb9, 0x0894c351457b21d1, 0x64a335e55a5a69c4,
	0x48538cdbee4a1e32, 0x41401e67762551fe, 0x1c780b825b13ca1d, 0xc480dca7da73cefd,
}
