package sim

import "math/rand/v2"

// FullMesh links every pair of n nodes: the federation host's own
// topology (it keeps a connection to every roster member).
func FullMesh(n int) [][2]int {
	var l [][2]int
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			l = append(l, [2]int{i, j})
		}
	}
	return l
}

// Line links node i to node i+1: a chain whose far end is n-1 hops away.
func Line(n int) [][2]int {
	var l [][2]int
	for i := 0; i+1 < n; i++ {
		l = append(l, [2]int{i, i + 1})
	}
	return l
}

// RandomGraph links each node to at least degree others chosen with seed,
// over a ring so the graph is connected: a roster where members keep only
// some connections.
func RandomGraph(n, degree int, seed uint64) [][2]int {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	has := map[[2]int]bool{}
	var l [][2]int
	add := func(a, b int) {
		if a == b {
			return
		}
		if a > b {
			a, b = b, a
		}
		if !has[[2]int{a, b}] {
			has[[2]int{a, b}] = true
			l = append(l, [2]int{a, b})
		}
	}
	for i := 0; i < n; i++ {
		add(i, (i+1)%n)
	}
	for i := 0; i < n; i++ {
		for k := 2; k < degree && k < n; k++ {
			add(i, rng.IntN(n))
		}
	}
	return l
}

// hops returns the shortest path in links from node from to every node
// (breadth first); -1 for a node it cannot reach.
func hops(n int, links [][2]int, from int) []int {
	adj := make([][]int, n)
	for _, e := range links {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	d := make([]int, n)
	for i := range d {
		d[i] = -1
	}
	d[from] = 0
	queue := []int{from}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range adj[v] {
			if d[w] < 0 {
				d[w] = d[v] + 1
				queue = append(queue, w)
			}
		}
	}
	return d
}

func connected(n int, links [][2]int) bool {
	for _, d := range hops(n, links, 0) {
		if d < 0 {
			return false
		}
	}
	return true
}

// Bridged is the national scenario's graph: the nodes of each group (a
// region) are linked to each other, and the first bridges nodes of each
// group are also linked to the bridges of every other group. A message
// between two ordinary members of different regions crosses at least
// three links (member, bridge, bridge, member).
func Bridged(groups [][]int, bridges int) [][2]int {
	var l [][2]int
	for _, g := range groups {
		for i := 0; i < len(g); i++ {
			for j := i + 1; j < len(g); j++ {
				l = append(l, [2]int{g[i], g[j]})
			}
		}
	}
	for x := 0; x < len(groups); x++ {
		for y := x + 1; y < len(groups); y++ {
			for _, a := range groups[x][:min(bridges, len(groups[x]))] {
				for _, b := range groups[y][:min(bridges, len(groups[y]))] {
					l = append(l, [2]int{a, b})
				}
			}
		}
	}
	return l
}

// directBridges maps each bridge of Bridged(groups, bridges) to the bridges
// of the other groups and, with fanout, also each bridge to the other
// members of its own group and each member to its group's bridges.
func directBridges(groups [][]int, bridges int, fanout bool) map[int][]int {
	d := map[int][]int{}
	for x, gx := range groups {
		bx := gx[:min(bridges, len(gx))]
		for y, gy := range groups {
			if x == y {
				continue
			}
			for _, a := range bx {
				d[a] = append(d[a], gy[:min(bridges, len(gy))]...)
			}
		}
		if !fanout {
			continue
		}
		for k, m := range gx {
			for _, b := range bx {
				if m == b {
					continue
				}
				d[m] = append(d[m], b)
				if k >= len(bx) { // an ordinary member: its bridges hold it too
					d[b] = append(d[b], m)
				}
			}
		}
	}
	return d
}
