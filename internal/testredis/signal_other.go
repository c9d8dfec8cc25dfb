//go:build !unix

package testredis

import (
	"errors"
	"os"
)

var errNoStop = errors.New("testredis: Pause needs SIGSTOP/SIGCONT (Unix only)")

func signalStop(*os.Process) error { return errNoStop }
func signalCont(*os.Process) error { return errNoStop }
