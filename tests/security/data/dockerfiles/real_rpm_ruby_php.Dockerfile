FROM centos:7
RUN yum -y update && yum -y install epel-release && yum clean all
RUN yum install -y nginx-1.20.1 && yum clean all && rm -rf /var/cache/yum
RUN rpm -Uvh https://example.org/x.rpm
FROM registry.access.redhat.com/ubi9/ubi-minimal:9.3
RUN microdnf install -y shadow-utils && microdnf clean all
RUN microdnf -y install tar-1.34 gzip && microdnf clean all
FROM opensuse/leap:15.5
RUN zypper --non-interactive refresh && zypper --non-interactive install -y curl=8.0 && zypper clean -a
FROM ruby:3.3
RUN gem install bundler:2.5.3 && bundle config set --local without 'development test'
RUN bundle install --jobs 4
FROM php:8.3-fpm
RUN docker-php-ext-install pdo_mysql
RUN pecl install redis-6.0.2 && docker-php-ext-enable redis
RUN curl -sS https://getcomposer.org/installer | php -- --install-dir=/usr/local/bin --filename=composer
