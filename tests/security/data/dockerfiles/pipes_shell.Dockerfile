FROM debian:12.5 AS one
RUN curl -fsSL https://example.org/install.sh | sh
RUN echo a || echo b
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.org/install.sh | bash

FROM debian:12.5 AS two
RUN cat /etc/os-release | grep ID
SHELL ["/bin/sh", "-c"]
RUN cat /etc/os-release | grep ID

FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command"]
RUN Get-ChildItem | Select-Object Name

FROM alpine:3.19
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
RUN apk info | sort
SHELL ["/bin/zsh", "-o", "pipefail", "-c"]
RUN ls | wc -l
