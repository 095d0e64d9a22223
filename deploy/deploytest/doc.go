// Package deploytest holds the Docker fault test of deploy/: it builds the
// static nrmnet binary and the FROM scratch image, prepares the five-node
// London region of deploy/compose.yaml with deploy/region, starts it with
// compose, and breaks it (a container killed, another cut off the network)
// to check that the rest keep delivering alerts and that the returning nodes
// catch up on what they missed. Before that it kills the Raft leader of the
// tri-borough combined panel, checks that the two members left take a case
// through a whole reasonable grounds decision, and that the restarted node
// applies the panel's log up to the leader's and shows the decision.
//
// The test needs a Docker engine and docker-compose (or the compose plugin)
// and skips, saying so, only when the Docker daemon cannot be reached. It
// removes every container, network, volume and image it made, also when it
// fails.
package deploytest
