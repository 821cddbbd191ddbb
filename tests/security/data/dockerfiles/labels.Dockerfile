FROM alpine:3.19
LABEL org.opencontainers.image.title="app" version=1.0
LABEL Maintainer=me
LABEL com.docker.extension=x
LABEL org..double=1
LABEL org.example.trailing-=1
LABEL org.example/path_ok=1
LABEL 1starts-with-digit=1
LABEL org.example--dash=1
LABEL "org.example.quoted"="yes"
