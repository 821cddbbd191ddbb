FROM debian:12.5 AS one
# hadolint stage ignore=DL3003
RUN cd /a
RUN cd /b

FROM debian:12.5 AS two
RUN cd /c
