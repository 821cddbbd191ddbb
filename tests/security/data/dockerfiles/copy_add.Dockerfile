FROM alpine:3.19 AS build
COPY app.tar.gz /tmp/
RUN tar -xzf /tmp/app.tar.gz -C /opt
COPY src.zip /tmp/src.zip
RUN unzip /tmp/src.zip
COPY a.txt b.txt /dest
COPY a.txt b.txt /dest/
COPY a.txt relative
ADD file.txt /file.txt
ADD https://example.org/file.txt /file.txt
ADD archive.tar.xz /opt/
ADD dir/ config.json /opt/
COPY --from=build /a /b
COPY --from=missing /a /b
COPY --from=0 /a /c
COPY --from=7 /a /d
COPY --from=alpine:3.19 /etc/os-release /e

FROM build AS final
WORKDIR app
COPY --from=build / /
COPY --from=build / /snapshot/
COPY x y
WORKDIR $HOME
WORKDIR /srv
WORKDIR "/quoted"
WORKDIR C:\\app
COPY data.tgz /tmp/
RUN gunzip /tmp/data.tgz
