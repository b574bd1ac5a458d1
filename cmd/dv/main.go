// Command dv is data version control for machine-learning teams.
package main

import (
	"os"

	"github.com/dv-ml/dv/cmd/dvcli"
)

func main() { os.Exit(dvcli.Main()) }
