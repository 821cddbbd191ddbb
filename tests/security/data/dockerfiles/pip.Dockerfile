FROM python:3.12-slim
RUN pip install flask
RUN pip install --no-cache-dir flask==3.0.0 'requests>=2' 'six<2'
RUN pip3 install -r requirements.txt
RUN pip install --requirement reqs.txt --no-cache-dir
RUN pip install .
RUN python -m pip install --no-cache-dir django
RUN python3 -m pip install -c constraints.txt numpy
RUN pip install --index-url https://example.org/simple --no-cache-dir pkg==1
RUN pip install -i https://example.org/simple pkg
RUN pip install git+https://github.com/a/b.git@v1 --no-cache-dir
RUN pip install git+https://github.com/a/b.git --no-cache-dir
RUN pip install ./dist/pkg.whl ./src/pkg.tar.gz
RUN pipx install black
RUN pipenv install --system
RUN PIP_NO_CACHE_DIR=1 pip install x==1
RUN pip install --upgrade pip==24.0
