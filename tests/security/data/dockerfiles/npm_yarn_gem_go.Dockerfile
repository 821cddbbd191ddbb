FROM node:20.11
RUN npm install express
RUN npm install express@4.18.2 @types/node@20 @scope/pkg
RUN npm install
RUN npm install --loglevel verbose lodash
RUN npm install git+https://github.com/a/b.git#v1 ./local ../up ~/home pkg.tgz
RUN npm ci
RUN npm install -g npm@10.2.0
RUN yarn install
RUN yarn install --frozen-lockfile && yarn cache clean
RUN yarn cache clean && yarn install
RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install
RUN gem install rails
RUN gem install rails:7.1 bundler -v 2.5
RUN gem install --no-document puma:6.4
RUN gem i nokogiri --version=1.16
RUN go install golang.org/x/tools/gopls@v0.15.0
RUN go install golang.org/x/tools/cmd/goimports@latest
RUN go get github.com/pkg/errors
RUN go run ./cmd/tool -flag value
RUN go run example.com/tool@v1.0.0 arg
RUN go install .
