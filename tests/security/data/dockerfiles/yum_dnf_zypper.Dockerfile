FROM fedora:39
ARG VER=1.2
ENV TOOL_VERSION=3.4
RUN yum install httpd && yum clean all
RUN yum install -y httpd-2.4.57 && yum clean all
RUN yum clean all && yum install -y mod_ssl-2.4
RUN yum install -y tree-${VER} git-${TOOL_VERSION} vim-${UNKNOWN} && rm -rf /var/cache/yum/*
RUN yum module install -y nodejs:18 && yum clean all
RUN yum groupinstall "Development Tools"
RUN dnf install nginx
RUN dnf install -y nginx-1.24.0 && dnf clean all
RUN microdnf install -y jq-1.7 && microdnf clean all
RUN dnf module install -y postgresql && dnf clean all
RUN dnf group install -y "C Development Tools" && dnf clean all
RUN --mount=type=cache,target=/var/cache/libdnf5 dnf install -y make-4.4
RUN dnf upgrade -y && rm -rf /var/cache/libdnf5*
RUN zypper install nginx
RUN zypper -n install nginx=1.21 && zypper clean
RUN zypper dist-upgrade
RUN zypper --non-interactive in 'vim>=9' ./local.rpm
RUN zypper dup -y && zypper cc
RUN zypper rm -y oldpkg
