package flowstore

import "testing"

// TestPortSums: the sums by port are the same whether they stay in the
// map (few ports) or move to the array (more than denseAfter), the move
// included.
func TestPortSums(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ports int
	}{
		{"none", 0},
		{"one", 1},
		{"map", denseAfter},
		{"array", denseAfter + 1},
		{"every port", 1 << 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p portSums
			want := map[int64][3]int64{}
			for round := int64(1); round <= 2; round++ {
				for i := range tc.ports {
					port := uint16(i * 7919) // spread, every port once when ports is 65536
					v := p.at(port)
					v[0]++
					v[1] += round
					v[2] += int64(port)
					w := want[int64(port)]
					want[int64(port)] = [3]int64{w[0] + 1, w[1] + round, w[2] + int64(port)}
				}
			}
			if dense := p.dense != nil; dense != (tc.ports > denseAfter) {
				t.Errorf("%d ports: in the array %v", tc.ports, dense)
			}
			got := map[int64][3]int64{}
			p.each(func(port int64, v *[3]int64) { got[port] = *v })
			if len(got) != len(want) {
				t.Fatalf("%d ports summed, want %d", len(got), len(want))
			}
			for k, w := range want {
				if got[k] != w {
					t.Fatalf("port %d: %v, want %v", k, got[k], w)
				}
			}
		})
	}
}
