FROM alpine:3.19 AS base
WORKDIR /app
COPY a.txt rel/

FROM base AS child
COPY b.txt rel/

FROM alpine:3.19 AS other
COPY c.txt rel/
COPY d.txt /abs/
COPY e.txt $DEST/
COPY f.txt "/quoted/"
