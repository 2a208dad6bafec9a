module runtime-shim/shim

go 1.18
