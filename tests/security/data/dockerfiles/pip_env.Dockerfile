FROM python:3.12-slim AS base
ENV PIP_NO_CACHE_DIR=1
RUN pip install a==1

FROM base AS child
RUN pip install b==1

FROM python:3.12-slim
ENV PIP_NO_CACHE_DIR=off
RUN pip install c==1
RUN --mount=type=cache,target=/root/.cache/pip pip install d==1
