<?php
return function ($req, $res) {
    return ['this is' => 'not a reply'];
};
