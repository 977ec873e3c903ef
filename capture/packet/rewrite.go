package packet

// rewriteInfo records where the IP headers are in the frame (placeholder
// until the decoder lands).
type rewriteInfo struct{}
