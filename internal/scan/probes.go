package scan

// phases lists the probes of a scan. Probes within a phase run at the same
// time (bounded by the connection budget); a phase starts when the one
// before it has finished, because it needs what that one found.
func (rn *run) phases() [][]step {
	first := []step{
		{"handshake", probeHandshake},
		{"alpn", probeALPN},
	}
	first = append(first, rn.versionSteps()...)
	if rn.s.opts.HTTPPort > 0 {
		first = append(first, step{"port 80", probePort80})
	}
	second := rn.detailSteps()
	return [][]step{first, second}
}
