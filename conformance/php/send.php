<?php
return fn ($req, $res) => $res->send("héllo wörld ✓ {$req->payload}", 201);
