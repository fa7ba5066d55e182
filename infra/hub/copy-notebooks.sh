#!/bin/bash
# Before a student's JupyterLab starts (the image's before-notebook.d hook): copy the lab's
# notebooks into the home folder the first time, so that the student's work is kept across
# restarts of the server; later starts leave the copies as the student left them.
if [ ! -d "${HOME}/telemetry-lab-notebooks" ]; then
    cp -r /opt/telemetry-lab/notebooks "${HOME}/telemetry-lab-notebooks"
fi
