#include "textflag.h"

// func prefetchSlots(slots *uint64, mask uint64, ps *Prepared, n int)
//
// PREFETCHT0 slots[ps[j].h&mask] for j < n; n > 0. Prepared.h is at
// offset 40, and a Prepared is 64 bytes (checked in table.go).
TEXT ·prefetchSlots(SB), NOSPLIT, $0-32
	MOVQ slots+0(FP), DI
	MOVQ mask+8(FP), DX
	MOVQ ps+16(FP), SI
	MOVQ n+24(FP), CX
loop:
	MOVQ 40(SI), AX
	ANDQ DX, AX
	PREFETCHT0 (DI)(AX*8)
	ADDQ $64, SI
	DECQ CX
	JNZ loop
	RET
