FROM debian:12.5 AS deps
RUN apt-get update && apt-get install -y --no-install-recommends gcc=4:12.2.0-3

FROM debian:12.5 AS unused
RUN apt-get update && apt-get install -y --no-install-recommends make=4.3-4.1

FROM deps AS build
RUN yarn install

FROM debian:12.5
COPY --from=build /out /out
RUN yarn install
