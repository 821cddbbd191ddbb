# escape=`
FROM mcr.microsoft.com/windows/nanoserver:ltsc2022
RUN echo one `
    && cd C:\app `
    && echo two
COPY a.txt b.txt C:\dest\
WORKDIR C:\app
