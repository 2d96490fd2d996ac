module github.com/bulwark-go/bulwark/bench

go 1.26

require github.com/bulwark-go/bulwark v0.0.0

replace github.com/bulwark-go/bulwark => ../
