module nrmnet

go 1.26
