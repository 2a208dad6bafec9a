<?php
return function ($req, $res) {
    exit(3);
};
